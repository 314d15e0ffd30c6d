"""Report plots and rows say what they show (issue 16): the criterion line only on its own metric's plot, one seed
drawn visibly, the anchor line labelled with its value and source, "n/a (1 seed)" instead of "± 0" and a
zero-width CI."""

from __future__ import annotations

import dataclasses

from dlfrontier.experiments.runner import run_one
from dlfrontier.report import write_report
from dlfrontier.report.render import plot_png, plot_spec
from tests.experiments.toy import ToyConfig  # noqa: F401  (registers toy-regression)


def _results(tmp_path, seeds):
    runs = tmp_path / "runs"
    for s in seeds:
        run_one("toy-regression", s, out=runs, tensorboard=False)
    _, md_path, results = write_report(runs, tmp_path / "r.html", tmp_path / "r.md")
    return md_path.read_text(), next(r for r in results if r.budget == "quick")


def test_criterion_line_only_on_the_criterions_own_metric(tmp_path):
    _, result = _results(tmp_path, (0,))
    own = plot_spec(result)
    assert [h["label"] for h in own["hlines"] if h["kind"] == "criterion"] == ["criterion <= 1"]
    other = plot_spec(dataclasses.replace(result, curve="train/loss"))  # like deep-compression: accuracy vs "35x"
    assert other["ylabel"] == "train/loss" and other["hlines"] == []
    assert plot_png(dataclasses.replace(result, curve="train/loss")).startswith(b"\x89PNG")


def test_anchor_line_is_labelled_with_its_value_and_source(tmp_path):
    _, result = _results(tmp_path, (0,))
    anchor = dataclasses.replace(result, anchor={**result.anchor, "value": 0.992,
                                                 "source": "Han et al. 2016, Deep Compression, Table 1"})
    labels = [h["label"] for h in plot_spec(anchor)["hlines"] if h["kind"] == "anchor"]
    assert labels == ["anchor 0.992 (Han et al. 2016)"]


def test_single_seed_curve_is_bold_with_markers_and_many_seeds_get_a_mean(tmp_path):
    _, one = _results(tmp_path / "a", (0,))
    (curve,) = plot_spec(one)["curves"]
    assert curve["marker"] == "o" and curve["lw"] >= 2 and curve["alpha"] == 1.0 and "only seed" in curve["label"]
    _, two = _results(tmp_path / "b", (0, 1))
    spec = plot_spec(two)
    assert [c["label"] for c in spec["curves"]] == ["seed 0", "seed 1", "mean"] and spec["band"] is not None
    assert all(c["marker"] is None for c in spec["curves"])


def test_one_seed_row_says_na_instead_of_zero_spread(tmp_path):
    md, _ = _results(tmp_path / "a", (0,))
    row = next(line for line in md.splitlines() if line.startswith("| toy-regression | quick"))
    assert "± n/a (1 seed)" in row and "± 0 " not in row and "| n/a (1 seed) |" in row  # the CI cell
    md, _ = _results(tmp_path / "b", (0, 1))
    row = next(line for line in md.splitlines() if line.startswith("| toy-regression | quick"))
    assert "n/a" not in row and "± " in row and "| [" in row
