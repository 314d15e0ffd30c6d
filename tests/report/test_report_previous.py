"""report --previous: rows of an earlier report whose run folders are elsewhere are carried over as they were."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dlfrontier import cli
from dlfrontier.errors import DLFrontierError
from dlfrontier.experiments.runner import run_one
from dlfrontier.report import write_report
from dlfrontier.report.previous import CARRIED
from tests.experiments.toy import ToyConfig  # noqa: F401  (registers toy-regression)


def _row(md: str, name: str, budget: str = "quick") -> str:
    return next(line for line in md.splitlines() if line.startswith(f"| {name} | {budget} |"))


@pytest.fixture
def earlier(tmp_path) -> Path:
    """A report of two experiments (toy-regression quick with a table, toy-regression-slow quick), in docs/."""
    runs = tmp_path / "runs-earlier"
    for seed in (0, 1):
        run_one("toy-regression", seed, out=runs, tensorboard=False)
        run_one("toy-regression-slow", seed, out=runs, tensorboard=False)
    first = sorted((runs / "toy-regression-slow").glob("0-*"))[0]
    (first / "tables").mkdir()
    (first / "tables" / "t.json").write_text(json.dumps({"title": "Slow table", "columns": ["a", "b"],
                                                         "rows": [["x <y>", 0.5]]}))
    write_report(runs, tmp_path / "docs" / "results.html", tmp_path / "docs" / "results.md")
    return tmp_path / "docs" / "results.md"


def test_rows_without_run_folders_are_carried_with_plots_and_tables(tmp_path, earlier):
    before = earlier.read_text()
    runs = tmp_path / "runs-new"
    run_one("toy-regression", 0, out=runs, tensorboard=False, overrides={"steps": "3"})  # re-run, one seed
    shutil.copytree(earlier.parent, tmp_path / "docs-before")
    html_path, md_path, results = write_report(runs, earlier.with_suffix(".html"), earlier, previous=earlier)
    md = md_path.read_text()
    assert [r.experiment for r in results] == ["toy-regression"]
    fresh = _row(md, "toy-regression")
    assert fresh != _row(before, "toy-regression") and "| 1 |" in fresh and CARRIED not in fresh
    slow = _row(md, "toy-regression-slow")
    old = _row(before, "toy-regression-slow")
    assert slow.split(" | ")[3] == old.split(" | ")[3] + f"; {CARRIED}"
    others = [c for i, c in enumerate(slow.split(" | ")) if i != 3]
    assert others == [c for i, c in enumerate(old.split(" | ")) if i != 3]
    assert "1 row(s) carried from the previous report (results.md)" in md
    # its section: the same plot file (bytes unchanged) and table
    assert "![toy-regression-slow-quick](results_plots/toy-regression-slow-quick.png)" in md
    png = "results_plots/toy-regression-slow-quick.png"
    assert (earlier.parent / png).read_bytes() == (tmp_path / "docs-before" / png).read_bytes()
    assert "**Slow table**" in md and "| x &lt;y> | 0.5 |" in md
    page = html_path.read_text()
    assert "id='toy-regression-slow-quick'" in page and "Slow table" in page and "x &lt;y&gt;" in page
    assert page.count("data:image/png;base64,") == 2
    # carried again: the same text (the mark once), rows in name order
    write_report(runs, earlier.with_suffix(".html"), earlier, previous=earlier)
    assert earlier.read_text() == md
    names = [line.split(" | ")[0][2:] for line in md.splitlines() if line.startswith("| toy-")]
    assert names == ["toy-regression", "toy-regression-slow"]


def test_a_paired_row_rerun_meets_its_carried_partner_row_only_by_name(tmp_path, earlier):
    runs = tmp_path / "runs-new"
    run_one("toy-regression-slow", 0, out=runs, tensorboard=False)
    _, md_path, _ = write_report(runs, tmp_path / "r.html", tmp_path / "r.md", previous=earlier)
    md = md_path.read_text()
    assert CARRIED in _row(md, "toy-regression") and CARRIED not in _row(md, "toy-regression-slow")
    # a report written elsewhere copies the carried plots into its own plot folder
    assert (tmp_path / "r_plots" / "toy-regression-quick.png").read_bytes() == \
        (earlier.parent / "results_plots" / "toy-regression-quick.png").read_bytes()


def test_a_plot_outside_the_report_folder_is_dropped_with_a_warning(tmp_path, earlier, capsys):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\nsecret")
    text = earlier.read_text().replace("(results_plots/toy-regression-slow-quick.png)", "(../secret.png)")
    earlier.write_text(text)
    runs = tmp_path / "runs-new"
    run_one("toy-regression", 0, out=runs, tensorboard=False)
    _, md_path, _ = write_report(runs, tmp_path / "out" / "r.html", tmp_path / "out" / "r.md", previous=earlier)
    err = capsys.readouterr().err
    assert "../secret.png" in err and "dropped" in err and "Traceback" not in err
    assert "secret" not in md_path.read_text()
    assert not (tmp_path / "out" / "r_plots" / "secret.png").exists()


@pytest.mark.parametrize("text, why", [
    ("# something else\n", "not a markdown report written by"),
    ("# dlfrontier results\n\nno table\n", "no summary table"),
    ("# dlfrontier results\n\n| experiment | budget | metric |\n|---|---|---|\n| a | quick | m |\n", "columns"),
])
def test_a_foreign_previous_file_is_one_error_before_anything_is_written(tmp_path, capsys, text, why):
    runs = tmp_path / "runs"
    run_one("toy-regression", 0, out=runs, tensorboard=False)
    prev = tmp_path / "prev.md"
    prev.write_text(text)
    with pytest.raises(DLFrontierError, match=why):
        write_report(runs, tmp_path / "out" / "r.html", tmp_path / "out" / "r.md", previous=prev)
    assert not (tmp_path / "out").exists()
    code = cli.main(["report", str(runs), "-o", str(tmp_path / "out" / "r.html"), "--previous", str(prev)])
    err = capsys.readouterr().err
    assert code != 0 and len([x for x in err.splitlines() if x.strip()]) == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_aggregates_across_experiments_stay_as_they_were_while_rows_are_carried():
    from dlfrontier.report.previous import CarriedRow, Previous
    from dlfrontier.report.render import KEPT, _carry

    def sec(title, text, plot):
        return {"title": title, "text": text, "tables": [], "plots": [plot]}

    prev = Previous(Path("results.md"), [CarriedRow("other", "quick", {})],
                    [sec("Sweep s", "old sweep", "sweep-s"), sec("RL aggregates", "old rl", "rl"),
                     sec("Gone", "old gone", "gone")],
                    {"sweep-s": b"old-sweep", "rl": b"old-rl", "gone": b"old-gone"})
    fresh = [sec("Sweep s", "new sweep", "sweep-s"), sec("RL aggregates", "new rl", "rl")]
    images = {"sweep-s": b"new-sweep", "rl": b"new-rl"}
    carried, appendix = _carry(prev, [], fresh, images)
    assert [c.experiment for c in carried] == ["other"]
    assert [(s["title"], s["text"]) for s in appendix] == [
        ("Sweep s", "new sweep"), ("RL aggregates", f"{KEPT} old rl"), ("Gone", f"{KEPT} old gone")]
    assert images == {"sweep-s": b"new-sweep", "rl": b"old-rl", "gone": b"old-gone"}
    # nothing carried: every fresh section wins; a carried section is marked once
    prev.rows = []
    prev.appendix[1]["text"] = f"{KEPT} old rl"
    images = {"sweep-s": b"new-sweep", "rl": b"new-rl"}
    _, appendix = _carry(prev, [], fresh, images)
    assert [s["text"] for s in appendix] == ["new sweep", "new rl", f"{KEPT} old gone"]
    assert images["rl"] == b"new-rl"
