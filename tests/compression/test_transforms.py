"""Pruning thresholds and masks, weight sharing's summed gradients, binary weights' STE: exact checks."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from dlfrontier.compression.binary import BinaryWeight, binarize, binary_scales
from dlfrontier.compression.layers import compressible_layers, strip_transforms
from dlfrontier.compression.prune import (
    current_mask,
    densities,
    layer_threshold,
    prune,
    prune_layer,
    prune_to_density,
    quality_for_density,
)
from dlfrontier.compression.sharing import share_weights
from dlfrontier.compression.state import restore, snapshot
from dlfrontier.data.mnist import ImageSet
from dlfrontier.models.classifier import TrainConfig, fit_classifier
from dlfrontier.models.lenet import LeNet5, LeNet300100


class NullLogger:
    def log(self, metrics, step):
        pass


def fake_ctx(seed=0):
    from dlfrontier.runtime import NullProgress

    return SimpleNamespace(seed=seed, device=torch.device("cpu"), logger=NullLogger(), progress=NullProgress(),
                           resume_state=None, save_checkpoint=lambda state, step: None)


def random_images(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    return ImageSet(torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8),
                    torch.randint(0, 10, (n,), generator=g))


def test_threshold_is_quality_times_std():
    layer = nn.Linear(50, 40)
    w = layer.weight.detach().clone()
    mask = prune_layer(layer, 0.7)
    thr = 0.7 * float(w.std())
    assert layer_threshold(w, torch.ones_like(w, dtype=torch.bool), 0.7) == pytest.approx(thr)
    assert torch.equal(mask, w.abs() > thr)
    assert torch.equal(layer.weight, torch.where(mask, w, torch.zeros(())))


def test_iterative_pruning_only_removes_more():
    torch.manual_seed(0)
    m = LeNet300100()
    first = prune(m, 0.5)
    second = prune(m, {"fc1": 0.5})
    assert (second["fc1"] <= first["fc1"]).all() and second["fc1"].sum() < first["fc1"].sum()
    assert torch.equal(current_mask(m.fc2), first["fc2"])  # layers not named keep their mask


@pytest.mark.parametrize("density", [0.02, 0.08, 0.5, 1.0])
def test_quality_for_density_hits_the_target(density):
    w = torch.randn(300, 100, generator=torch.Generator().manual_seed(1))
    q = quality_for_density(w, torch.ones_like(w, dtype=torch.bool), density)
    assert float((w.abs() > q * w.std()).float().mean()) == pytest.approx(density, abs=1e-4)


@pytest.mark.parametrize("optimizer,wd", [("adam", 0.0), ("sgd", 5e-4)])
def test_masks_stay_zero_through_retraining(optimizer, wd):
    torch.manual_seed(0)
    m = LeNet300100()
    prune_to_density(m, {"fc1": 0.1, "fc2": 0.2, "fc3": 0.5})
    before = {n: (layer.weight != 0).clone() for n, layer in compressible_layers(m)}
    old = m.fc1.weight.detach().clone()
    cfg = TrainConfig(epochs=1, batch_size=32, optimizer=optimizer, weight_decay=wd, lr=0.01)
    fit_classifier(fake_ctx(), m, random_images(), random_images(64, 1), cfg)
    for n, layer in compressible_layers(m):
        assert torch.equal(layer.weight != 0, before[n]), n  # pruned stay zero, survivors stay alive
    assert not torch.equal(m.fc1.weight, old)  # yet the survivors did train


def test_centroid_gradient_is_the_sum_of_weight_gradients_per_cluster():
    torch.manual_seed(0)
    m = LeNet300100()
    prune_to_density(m, {"fc2": 0.3})
    shared = share_weights(m, {"fc2": 3})["fc2"]
    x = torch.randn(8, 784)
    # Reference: a plain copy with the same (shared) weights; sum its weight gradient over each cluster.
    plain = strip_transforms(LeNet300100())
    plain.load_state_dict(strip_transforms(snapshot_copy(m)).state_dict())
    plain(x).square().sum().backward()
    m(x).square().sum().backward()
    g = plain.fc2.weight.grad
    ref = torch.stack([g[(shared.labels == j) & shared.mask].sum() for j in range(8)])
    torch.testing.assert_close(shared.centroids.grad, ref, rtol=1e-5, atol=1e-6)
    assert m.fc2.parametrizations.weight.original.grad is None  # only the centroids train


def snapshot_copy(m):
    return restore(LeNet300100(), snapshot(m))


def test_sharing_keeps_labels_and_mask_while_training():
    torch.manual_seed(0)
    m = LeNet300100()
    prune_to_density(m, {"fc1": 0.1, "fc2": 0.1, "fc3": 0.5})
    shared = share_weights(m, 2)
    labels = {n: t.labels.clone() for n, t in shared.items()}
    centroids = {n: t.centroids.detach().clone() for n, t in shared.items()}
    fit_classifier(fake_ctx(), m, random_images(), random_images(64, 1), TrainConfig(epochs=1, batch_size=32))
    for n, t in shared.items():
        assert torch.equal(t.labels, labels[n])
        assert not torch.equal(t.centroids.detach(), centroids[n])
    assert len(torch.unique(m.fc1.weight)) <= 5  # 4 shared values and zero
    assert densities(m)["fc1"] == pytest.approx(0.1, abs=1e-3)


def test_binary_weights_and_straight_through_gradient():
    layer = nn.Conv2d(3, 4, 3)
    with torch.no_grad():
        layer.weight[0, 0, 0, 0] = 1.5  # outside [-1, 1]: its gradient is cancelled
    w = layer.weight.detach().clone()
    binarize(nn.Sequential(layer))
    alpha = w.abs().mean(dim=(1, 2, 3), keepdim=True)
    expected = alpha * torch.where(w >= 0, 1.0, -1.0)
    assert torch.equal(layer.weight, expected)
    upstream = torch.randn_like(w)
    (layer.weight * upstream).sum().backward()
    grad = layer.parametrizations.weight.original.grad
    assert torch.equal(grad, upstream * (w.abs() <= 1))
    assert grad[0, 0, 0, 0] == 0
    assert binary_scales(w, "layer").shape == (1, 1, 1, 1)
    with pytest.raises(ValueError, match="filter"):
        BinaryWeight("channel")  # type: ignore[arg-type]


def test_snapshot_restore_round_trip_all_transforms():
    torch.manual_seed(0)
    m = LeNet5()
    prune_to_density(m, {"conv2": 0.3, "fc1": 0.1})
    share_weights(m, {"fc1": 4})
    binarize(nn.Sequential(m.conv1))
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(restore(LeNet5(), snapshot(m))(x), m(x))


def test_csr_linear_matches_the_pruned_dense_model():
    from dlfrontier.compression.bench import CSRLinear, to_csr
    from dlfrontier.compression.state import clone

    torch.manual_seed(0)
    m = LeNet300100()
    prune_to_density(m, {"fc1": 0.08, "fc2": 0.09, "fc3": 0.26})
    dense = strip_transforms(clone(m, LeNet300100))
    csr = to_csr(strip_transforms(clone(m, LeNet300100)))
    assert isinstance(csr.fc1, CSRLinear)
    x = torch.randn(5, 1, 28, 28)
    torch.testing.assert_close(csr(x), dense(x), rtol=1e-5, atol=1e-5)
