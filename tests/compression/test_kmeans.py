"""1-D k-means with linear initialisation against a naive reference; degenerate inputs."""

import numpy as np
import pytest

from dlfrontier.compression.kmeans import assign, check_bits, init_centroids, kmeans_1d


def naive_kmeans(values, k, iters=100):
    c = [min(values) + (max(values) - min(values)) * i / (k - 1) for i in range(k)] if k > 1 else [min(values)]
    labels = None
    for _ in range(iters + 1):
        new = [min(range(k), key=lambda j: (abs(v - c[j]), j)) for v in values]
        if new == labels:
            break
        labels = new
        for j in range(k):
            members = [v for v, lab in zip(values, labels, strict=True) if lab == j]
            if members:
                c[j] = sum(members) / len(members)
    return np.array(c), np.array(labels)


@pytest.mark.parametrize("k", [1, 2, 4, 16])
def test_matches_naive_reference(k):
    values = np.random.default_rng(k).normal(size=300)
    centroids, labels = kmeans_1d(values, k)
    ref_c, ref_l = naive_kmeans(values.tolist(), k)
    np.testing.assert_allclose(centroids, ref_c.astype(np.float32), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(labels, ref_l)


def test_fixed_point_properties():
    values = np.random.default_rng(0).laplace(size=2000)
    centroids, labels = kmeans_1d(values, 8)
    np.testing.assert_array_equal(labels, assign(values, centroids))  # nearest stored centroid
    for j in range(8):
        members = values[labels == j]
        if len(members):
            assert abs(members.mean() - centroids[j]) < 1e-4


def test_degenerate_inputs():
    c, lab = kmeans_1d(np.full(5, 0.25), 4)  # all equal: every centroid is the value, all in cluster 0
    assert (c == np.float32(0.25)).all() and (lab == 0).all()
    c, lab = kmeans_1d(np.array([1.0, 2.0]), 8)  # more clusters than values
    np.testing.assert_array_equal(c[lab], np.array([1.0, 2.0], dtype=np.float32))
    c, lab = kmeans_1d(np.zeros(0), 4)
    assert len(lab) == 0 and len(c) == 4
    assert init_centroids(np.array([0.0, 1.0]), 3).tolist() == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("bits", [0, 17, 2.5, True])
def test_bits_out_of_range(bits):
    with pytest.raises(ValueError, match="bits"):
        check_bits(bits)
