import json

import numpy as np
import pytest

from dlfrontier.experiments.runner import run_one
from dlfrontier.report import bootstrap_ci, iqm, stratified_bootstrap_ci, write_report
from dlfrontier.tracking import read_metrics
from tests.experiments.toy import ToyConfig  # noqa: F401  (registers toy-regression)


def test_iqm_by_hand():
    assert iqm([1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx(4.5)  # drops 1,2 and 7,8
    assert iqm([10, 0, 100, 1, 2]) == pytest.approx(13 / 3)  # n=5 cuts one each side: mean(1, 2, 10)
    assert iqm([3.0]) == 3.0 and iqm([1, 2]) == 1.5
    assert np.isnan(iqm([]))


def test_bootstrap_ci():
    assert bootstrap_ci([2.0]) == (2.0, 2.0)
    lo, hi = bootstrap_ci([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], seed=1)
    assert 1 <= lo < iqm(range(1, 11)) < hi <= 10
    assert bootstrap_ci([1, 5, 9], seed=3) == bootstrap_ci([1, 5, 9], seed=3)
    assert bootstrap_ci([4, 4, 4]) == (4.0, 4.0)
    lo, hi = stratified_bootstrap_ci([[1, 2, 3], [10, 11, 12]])
    assert 1 <= lo <= hi <= 12


def test_report_renders_rows_plots_and_tables(tmp_path):
    runs = tmp_path / "runs"
    for seed in (0, 1, 2):
        run_one("toy-regression", seed, out=runs, tensorboard=False)
    failing = run_one("toy-regression", 0, out=runs, budget="full", overrides={"steps": "3", "lr": "0.0"},
                      tensorboard=False)
    assert failing["expect"]["passed"] is False
    first = sorted((runs / "toy-regression").glob("0-*"))[0]
    (first / "tables").mkdir()
    (first / "tables" / "t.json").write_text(json.dumps({"title": "My table", "columns": ["a", "b"],
                                                         "rows": [["x", 0.5]]}))
    html_path, md_path, results = write_report(runs, tmp_path / "out" / "r.html", tmp_path / "out" / "r.md")
    page = html_path.read_text()
    assert "id='toy-regression-quick'" in page and "id='toy-regression-full'" in page
    assert page.count("data:image/png;base64,") == 2 and "http" not in page.replace("https://", "")
    md = md_path.read_text()
    quick = next(line for line in md.splitlines() if line.startswith("| toy-regression | quick"))
    vals = [r.summary["metrics"]["eval/mse"] for r in results[1].runs]
    assert results[1].budget == "quick" and "| 3 |" in quick and "pass (3/3 seeds)" in quick
    assert f"{np.mean(vals):.4g}" in quick
    assert "FAIL (0/1 seeds)" in md and "My table" in md and "My table" in page
    assert (tmp_path / "out" / "r_plots" / "toy-regression-quick.png").is_file()


def test_report_shows_step0_baseline_and_paired_comparisons(tmp_path):
    runs = tmp_path / "runs"
    for seed in (0, 1):
        run_one("toy-regression", seed, out=runs, tensorboard=False)
        run_one("toy-regression-slow", seed, out=runs, tensorboard=False)
    _, md_path, results = write_report(runs, tmp_path / "r.html", tmp_path / "r.md")
    md = md_path.read_text()
    slow = next(line for line in md.splitlines() if line.startswith("| toy-regression-slow | quick"))
    fast = next(r for r in results if r.experiment == "toy-regression")
    slow_r = next(r for r in results if r.experiment == "toy-regression-slow")
    diff = np.mean(slow_r.values) - np.mean(fast.values)
    assert diff > 0 and f"slower (eval/mse - toy-regression > 0.0): pass: mean difference {diff:+.4g}" in slow
    assert "over 2 paired seeds (2 of them > 0)" in slow
    assert "loss finite (train/loss <= 100.0): pass (2/2 seeds)" in slow
    step0 = np.mean([read_metrics(r.path)["eval/mse"][0][1] for r in fast.runs])
    assert all(read_metrics(r.path)["eval/mse"][0][0] == 0 for r in fast.runs)
    row = next(line for line in md.splitlines() if line.startswith("| toy-regression | quick"))
    assert f"15; step 0: {step0:.4g}" in row  # the declared baseline and the runs' own untrained score


def test_paired_comparison_without_the_other_runs_says_so(tmp_path):
    runs = tmp_path / "runs"
    run_one("toy-regression-slow", 0, out=runs, tensorboard=False)
    _, md_path, _ = write_report(runs, tmp_path / "r.html", tmp_path / "r.md")
    assert "slower (eval/mse - toy-regression > 0.0): no paired runs" in md_path.read_text()


def test_each_experiment_has_its_plots_next_to_its_tables(tmp_path):
    runs = tmp_path / "runs"
    for budget in ("quick", "full"):
        run_one("toy-regression", 0, out=runs, budget=budget, tensorboard=False)
    for folder in (runs / "toy-regression").glob("0-*"):
        budget = json.loads((folder / "summary.json").read_text())["budget"]
        (folder / "tables").mkdir()
        (folder / "tables" / "t.json").write_text(json.dumps({"title": f"table of {budget}", "columns": ["a"],
                                                             "rows": [["x"]]}))
        (folder / "extra.png").write_bytes(b"\x89PNG not really")
    html_path, md_path, _ = write_report(runs, tmp_path / "r.html", tmp_path / "r.md")
    md, page = md_path.read_text(), html_path.read_text()
    for text, plot in ((md, "](r_plots/toy-regression-{b}.png)"), (page, "alt='toy-regression-{b}'")):
        assert "## Plots" not in text and "## Tables" not in text and "<h2>Plots" not in text
        full, quick = (text.index(plot.format(b=b)) for b in ("full", "quick"))
        extra_full, extra_quick = (text.index(plot.format(b=f"{b}-extra")) for b in ("full", "quick"))
        t_full, t_quick = (text.index(f"table of {b}") for b in ("full", "quick"))
        assert full < extra_full < t_full < quick < extra_quick < t_quick  # each budget's section together
    assert "<a href='#toy-regression-quick'>" in page and "id='section-toy-regression-quick'" in page
    assert "### toy-regression-quick" in md


def test_unfinished_runs_are_counted_by_status(tmp_path):
    runs = tmp_path / "runs"
    for seed in (0, 1, 2):
        run_one("toy-regression", seed, out=runs, tensorboard=False)
    folders = sorted((runs / "toy-regression").glob("*-*"))
    for folder, status in zip(folders[1:], ("failed", "interrupted"), strict=True):
        s = json.loads((folder / "summary.json").read_text())
        (folder / "summary.json").write_text(json.dumps({**s, "status": status}))
    _, md_path, _ = write_report(runs, tmp_path / "r.html", tmp_path / "r.md")
    row = next(line for line in md_path.read_text().splitlines() if line.startswith("| toy-regression | quick"))
    assert "| 1 (+1 failed, +1 interrupted) |" in row, row


def test_a_row_without_finished_runs_judges_nothing(tmp_path):
    runs = tmp_path / "runs"
    run_one("toy-regression-slow", 0, out=runs, tensorboard=False)
    folder = next((runs / "toy-regression-slow").glob("*-*"))
    s = json.loads((folder / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps({**s, "status": "running"}))
    _, md_path, _ = write_report(runs, tmp_path / "r.html", tmp_path / "r.md")
    row = next(line for line in md_path.read_text().splitlines() if line.startswith("| toy-regression-slow | quick"))
    assert "| 0 (+1 running) |" in row and "FAIL" not in row and "loss finite" in row, row
    assert "no finished runs" in row and "no paired runs" in row, row
