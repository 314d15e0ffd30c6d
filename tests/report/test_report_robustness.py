"""report on folders it did not write: malformed summaries, repeated seeds, outputs it cannot write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlfrontier import cli
from dlfrontier.experiments.runner import run_one
from dlfrontier.report import write_report
from tests.experiments.toy import ToyConfig  # noqa: F401  (registers toy-regression)


def _toy_runs(runs: Path, seeds=(0,)) -> list[Path]:
    return [Path(run_one("toy-regression", s, out=runs, tensorboard=False)["run_dir"]) for s in seeds]


@pytest.mark.parametrize("damage, problem", [
    (lambda s: {**s, "metrics": [1, 2]}, "metrics"),
    (lambda s: {**s, "seed": "zero"}, "seed"),
    (lambda s: {**s, "metrics": {"eval/mse": "low"}}, "eval/mse"),
    (lambda s: {**s, "expect": "yes"}, "expect"),
    (lambda s: {**s, "budget": 3}, "budget"),
    (lambda s: [s], "JSON object"),
    (None, "JSON"),
])
def test_a_malformed_summary_is_skipped_with_one_warning(tmp_path, capsys, damage, problem):
    runs = tmp_path / "runs"
    good, bad = _toy_runs(runs, seeds=(0, 1))
    text = (bad / "summary.json").read_text()
    if damage is None:
        (bad / "summary.json").write_text(text[: len(text) // 2])  # truncated
    else:
        (bad / "summary.json").write_text(json.dumps(damage(json.loads(text))))
    _, md_path, results = write_report(runs, tmp_path / "r.html", tmp_path / "r.md")
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and str(bad) in lines[0] and problem in lines[0] and "Traceback" not in err, err
    assert [len(r.runs) for r in results] == [1]
    md = md_path.read_text()
    assert "1 run folder(s) skipped" in md
    assert "1 run folder(s) skipped" in (tmp_path / "r.html").read_text()


def test_the_same_seed_run_twice_counts_once(tmp_path):
    runs = tmp_path / "runs"
    folders = _toy_runs(runs, seeds=(0, 0, 0))
    _, md_path, results = write_report(runs, tmp_path / "r.html", tmp_path / "r.md")
    md = md_path.read_text()
    row = next(line for line in md.splitlines() if line.startswith("| toy-regression | quick"))
    assert "pass (1/1 seeds)" in row and "2 older repeats ignored" in row, row
    assert [r.path for r in results[0].runs] == [folders[-1]]  # the newest finished one
    assert "2 older repeat(s) of a seed ignored" in md


def test_a_repeat_with_another_config_is_its_own_run(tmp_path):
    runs = tmp_path / "runs"
    _toy_runs(runs, seeds=(0,))
    run_one("toy-regression", 0, out=runs, tensorboard=False, overrides={"lr": "0.04"})
    _, _, results = write_report(runs, tmp_path / "r.html", tmp_path / "r.md")
    assert len(results[0].runs) == 2


def test_a_repeat_written_before_a_field_existed_is_still_a_repeat(tmp_path):
    """A field added since (here: absent from the older config.json, nested too) does not make the older run of
    the same seed another run; a value that differs on a key both configs have does."""
    runs = tmp_path / "runs"
    old, new = _toy_runs(runs, seeds=(0, 0))
    cfg = json.loads((old / "config.json").read_text())
    cfg["config"].pop(sorted(cfg["config"])[0])
    cfg["config"]["nested"] = {"a": 1}
    (old / "config.json").write_text(json.dumps(cfg))
    newer = json.loads((new / "config.json").read_text())
    newer["config"]["nested"] = {"a": 1, "b": 2}
    (new / "config.json").write_text(json.dumps(newer))
    _, _, results = write_report(runs, tmp_path / "r.html", tmp_path / "r.md")
    assert [r.path for r in results[0].runs] == [new] and results[0].ignored == 1
    newer["config"]["nested"] = {"a": 3, "b": 2}
    (new / "config.json").write_text(json.dumps(newer))
    _, _, results = write_report(runs, tmp_path / "r.html", tmp_path / "r.md")
    assert len(results[0].runs) == 2


def test_an_unfinished_newer_repeat_does_not_hide_the_finished_run(tmp_path):
    runs = tmp_path / "runs"
    done, newer = _toy_runs(runs, seeds=(0, 0))
    s = json.loads((newer / "summary.json").read_text())
    (newer / "summary.json").write_text(json.dumps({**s, "status": "failed"}))
    _, _, results = write_report(runs, tmp_path / "r.html", tmp_path / "r.md")
    assert [r.path for r in results[0].runs] == [done]


def test_report_output_it_cannot_write_is_one_line(tmp_path, capsys, monkeypatch):
    runs = tmp_path / "runs"
    _toy_runs(runs)
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("")
    for target in (tmp_path / "adir", tmp_path / "afile" / "r.html"):
        assert cli.main(["report", str(runs), "-o", str(target)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and str(target) in err, err

    import tempfile

    def refuse(*args, **kwargs):  # a read-only folder (the tests may run as root, who may write anywhere)
        raise PermissionError(13, "Permission denied", kwargs.get("dir"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert cli.main(["report", str(runs), "-o", str(tmp_path / "ro" / "r.html")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Permission denied" in err and "Traceback" not in err, err
