"""Fuzzing the files `dlfrontier report` reads from run folders people hand around: `summary.json` and `metrics.csv`.

Whatever they hold (any JSON value, a valid summary with any field replaced by any JSON value, any bytes),
`write_report` writes a report, skipping a bad folder with one warning line, or raises one DLFrontierError; never
another exception. Bounded (examples, deadline) and derandomized: the same examples on every run.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dlfrontier.errors import DLFrontierError
from dlfrontier.report import write_report

FUZZ = settings(max_examples=150, deadline=20_000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

GOOD = {
    "experiment": "toy-regression", "seed": 0, "budget": "quick", "status": "done",
    "metrics": {"eval/mse": 0.5, "train/loss": 0.25},
    "expect": {"metric": "eval/mse", "op": "<=", "threshold": 1.0, "passed": True},
    "criteria": [{"kind": "threshold", "name": "", "metric": "eval/mse", "op": "<=", "threshold": 1.0,
                  "passed": True},
                 {"kind": "paired", "name": "p", "metric": "eval/mse", "other": "toy-regression", "op": ">",
                  "margin": 0.0},
                 {"kind": "threshold", "name": "loss", "metric": "train/loss", "op": "<=", "threshold": 9.0}],
    "anchor": {"metric": "eval/mse", "value": 0.0, "source": "exact solution"},
    "baseline": {"value": 15.0, "source": "untrained"},
    "curve": "eval/mse", "wall_seconds": 1.0,
}
GOOD_CSV = "step,key,value\n0,eval/mse,30.0\n1,train/loss,20.0\n2,eval/mse,1.5\n"

# JSON as Python's json module reads it: NaN and Infinity included, integers of any size
EXTREMES = st.sampled_from([10**400, -10**400, 2**63, -(2**63), 2**1024, float("nan"), float("inf"), -float("inf"),
                            1e308, -0.0, 5e-324])
SCALARS = st.one_of(st.none(), st.booleans(), EXTREMES, st.integers(-10**400, 10**400) | st.integers(-5, 5),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=12) | st.sampled_from(["", "done", "running", "quick", "eval/mse", "<=",
                                                            "../..", "<script>", "a|b", "paired", "threshold"]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8) | st.sampled_from(sorted(GOOD)), inner, max_size=4),
                    max_leaves=12)


def _paths(d: object, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside ``d`` (dict keys and list indices)."""
    out = [prefix] if prefix else []
    if isinstance(d, dict):
        for k, v in d.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            out += _paths(v, prefix + (i,))
    return out


@st.composite
def damaged_summary(draw) -> dict:
    s = json.loads(json.dumps(GOOD))
    for path in draw(st.lists(st.sampled_from(_paths(GOOD)), min_size=1, max_size=3)):
        target = s
        try:
            for k in path[:-1]:
                target = target[k]
            if draw(st.booleans()) or not isinstance(target, dict):
                target[path[-1]] = draw(JSON)
            else:
                del target[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced the parent
    return s


SUMMARY = st.one_of(damaged_summary().map(lambda s: json.dumps(s, allow_nan=True).encode()),
                    JSON.map(lambda v: json.dumps(v, allow_nan=True).encode()),
                    st.binary(max_size=200))
CSV_LINES = st.lists(st.tuples(st.integers(-10**30, 10**30) | EXTREMES | st.sampled_from(["", "x", "1.5", "-0"]),
                               st.sampled_from(["eval/mse", "train/loss", "", "a,b", '"q"']),
                               st.floats(allow_nan=True, allow_infinity=True) | EXTREMES
                               | st.sampled_from(["", "x", "1e999", "nan"])), max_size=8)
METRICS = st.one_of(st.none(), st.binary(max_size=200),
                    CSV_LINES.map(lambda rows: ("step,key,value\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
                                  .encode()),
                    st.just(GOOD_CSV.encode()), st.text(max_size=100).map(lambda t: t.encode("utf-8", "replace")))


def _write(folder: Path, summary: bytes, metrics: bytes | None) -> None:
    folder.mkdir(parents=True)
    (folder / "summary.json").write_bytes(summary)
    if metrics is not None:
        (folder / "metrics.csv").write_bytes(metrics)


@FUZZ
@given(fuzzed=st.lists(st.tuples(SUMMARY, METRICS), min_size=1, max_size=2), good=st.booleans())
def test_report_on_any_summary_and_metrics_writes_or_is_one_error(fuzzed, good):
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        if good:
            _write(runs / "toy-regression" / "0-20260101T000000Z", json.dumps(GOOD).encode(), GOOD_CSV.encode())
        for i, (summary, metrics) in enumerate(fuzzed):
            _write(runs / "fuzzed" / f"{i + 1}-20260101T00000{i}Z", summary, metrics)
        warnings: list[str] = []
        try:
            html_path, md_path, results = write_report(runs, Path(tmp) / "r.html", Path(tmp) / "r.md",
                                                       warn=warnings.append)
        except DLFrontierError as e:
            assert str(e) and "\n" not in str(e)
            assert not good  # a good run folder always makes a report
            event("one error")
            return
        event(f"{len(warnings)} skipped, {sum(len(r.runs) for r in results)} used")
        assert html_path.is_file() and md_path.is_file()
        assert len(warnings) <= len(fuzzed) and all("\n" not in w for w in warnings)
        assert sum(len(r.runs) + r.ignored for r in results) + len(warnings) == len(fuzzed) + good  # none lost
        assert "<script>" not in md_path.read_text() and "<script>" not in html_path.read_text()
