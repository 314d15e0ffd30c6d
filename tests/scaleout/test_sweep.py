"""`dlfrontier sweep`: grid and random expansion, validation before any folder, successive halving, the report's
per-config table and the RL aggregate section."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from dlfrontier.cli import main
from dlfrontier.errors import ConfigError
from dlfrontier.experiments import sweep as sw
from dlfrontier.report import write_report
from tests.experiments.toy import ToyConfig  # registers toy-regression


def test_grid_expansion_is_the_product_in_order():
    grid = sw.parse_grid(["lr=1e-3,3e-4", "steps=1,3,5"])
    assert grid == {"lr": ["1e-3", "3e-4"], "steps": ["1", "3", "5"]}
    points = sw.grid_points(grid)
    assert points == [{"lr": a, "steps": b} for a in ("1e-3", "3e-4") for b in ("1", "3", "5")]
    assert sw.split_values("(64,64),(256, 256),[1,2]") == ["(64,64)", "(256, 256)", "[1,2]"]
    assert sw.parse_grid(["widths=(4,2),(8,8)"]) == {"widths": ["(4,2)", "(8,8)"]}


def test_random_search_is_exact_and_reproducible():
    ranges = sw.parse_ranges(["lr=1e-4:1e-1:log", "steps=10:20"])
    assert ranges == {"lr": sw.Range(1e-4, 1e-1, True), "steps": sw.Range(10.0, 20.0)}
    points = sw.random_points(ToyConfig, ranges, 4, seed=3)
    rng = np.random.default_rng(3)
    for p in points:
        u_lr, u_steps = rng.random(), rng.random()  # per point, per key in the order given
        assert p["lr"] == float(f"{math.exp(math.log(1e-4) + u_lr * (math.log(1e-1) - math.log(1e-4))):.6g}")
        assert p["steps"] == round(10 + u_steps * 10) and isinstance(p["steps"], int)
    assert points == sw.random_points(ToyConfig, ranges, 4, seed=3) != sw.random_points(ToyConfig, ranges, 4, seed=4)
    both = sw.sweep_points(ToyConfig, sw.parse_grid(["mode=fit"]), ranges, samples=2, seed=3)
    assert both == [{"mode": "fit", **p} for p in points[:2]]


@pytest.mark.parametrize("call, message", [
    (lambda: sw.parse_grid(["lr"]), "expected key=v1,v2"),
    (lambda: sw.parse_grid(["lr=1,,2"]), "expected key=v1,v2"),
    (lambda: sw.parse_grid(["lr=1", "lr=2"]), "given twice"),
    (lambda: sw.parse_grid(["lr=1,1"]), "repeated"),
    (lambda: sw.parse_ranges(["lr=1:0"]), "lo < hi"),
    (lambda: sw.parse_ranges(["lr=0:1:log"]), "lo > 0"),
    (lambda: sw.parse_ranges(["lr=a:b"]), "expected key=lo:hi"),
    (lambda: sw.sweep_points(ToyConfig, {}, {}, 0), "needs --grid"),
    (lambda: sw.sweep_points(ToyConfig, {"lr": ["1"]}, {}, 3), "go together"),
    (lambda: sw.sweep_points(ToyConfig, {"lr": ["1"]}, {"lr": sw.Range(0, 1)}, 2), "both --grid and --range"),
    (lambda: sw.random_points(ToyConfig, {"nope": sw.Range(0, 1)}, 1, 0), "unknown key 'nope'"),
    (lambda: sw.Halving(eta=1), "--halving-eta"),
])
def test_bad_sweep_arguments_are_one_line(call, message):
    with pytest.raises(ConfigError, match=message) as e:
        call()
    assert "\n" not in str(e.value)


def test_every_point_and_seed_is_validated_before_any_folder(tmp_path, capsys):
    out = tmp_path / "runs"
    points = sw.grid_points(sw.parse_grid(["lr=0.05,-1"]))
    with pytest.raises(ConfigError, match=r"sweep point 1 \(lr=-1\): lr=-1.0: expected a value >= 0"):
        sw.plan_sweep("toy-regression", points, [0, 1], out=str(out))
    with pytest.raises(ConfigError, match="give the same config"):
        sw.plan_sweep("toy-regression", [{"lr": "0.05"}, {"lr": "5e-2"}], [0], out=str(out))
    with pytest.raises(ConfigError, match="both --set and the sweep"):
        sw.plan_sweep("toy-regression", [{"lr": "0.05"}], [0], overrides={"lr": "0.1"}, out=str(out))
    rc = main(["sweep", "toy-regression", "--grid", "lr=0.05,0.01", "--grid", "mode=fit,explode", "--seeds", "0-2",
               "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "mode='explode': expected one of fit, crash" in err
    assert not out.exists()  # nothing written, not even the first valid point's runs


def _config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


def test_sweep_runs_every_point_and_seed_and_the_report_marks_the_best(tmp_path, capsys):
    out = tmp_path / "runs"
    rc = main(["sweep", "toy-regression", "--grid", "lr=0.05,0.0", "--grid", "steps=20,40", "--seeds", "0-1",
               "--id", "toy-grid", "--out", str(out)])
    assert rc == 0, capsys.readouterr()
    folders = sorted((out / "toy-regression").iterdir())
    assert len(folders) == 8
    points = {(c["sweep"]["index"], c["seed"]): c for c in map(_config, folders)}
    assert sorted(points) == [(i, s) for i in range(4) for s in (0, 1)]
    for (i, _), c in points.items():
        expect = sw.grid_points({"lr": [0.05, 0.0], "steps": [20, 40]})[i]
        assert c["sweep"]["id"] == "toy-grid" and c["sweep"]["point"] == expect
        assert c["config"]["lr"] == expect["lr"] and c["config"]["steps"] == expect["steps"]
    # a run of the same config and seed outside the sweep is not a repeat of the sweep's run
    assert main(["run", "toy-regression", "--set", "lr=0.05", "--set", "steps=40", "--seeds", "0",
                 "--out", str(out)]) == 0
    html_path, md_path, results = write_report(out, tmp_path / "r.html", tmp_path / "r.md")
    md = md_path.read_text()
    assert [len(r.runs) for r in results] == [1]  # the plain run keeps its own row, apart from the sweep
    table = md[md.index("**toy-grid: per-config results**"):]
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:5]
    assert rows[1].startswith("| 1 ★ best | 0.05 | 40 | 2 |")  # lr 0.05 for 40 steps: the lowest mse
    assert "| 2 | 0 | 20 | 2 |" in rows[2] and "FAIL (0/2 seeds)" in rows[2] and "| 1 [1, 1] |" in rows[2]
    assert (tmp_path / "r_plots" / "sweep-toy-grid-profile.png").is_file()
    assert "alt='sweep-toy-grid-profile'" in html_path.read_text()


def test_successive_halving_drops_the_bad_config(tmp_path):
    points = sw.grid_points(sw.parse_grid(["lr=0.0,0.05,0.01"]))
    halving = sw.Halving(eta=2)
    assert halving.rungs(4) == [1, 2, 4] and sw.Halving(3, 2).rungs(5) == [2, 5]
    sweep = sw.plan_sweep("toy-regression", points, [0, 1, 2, 3], out=str(tmp_path), tensorboard=False,
                          halving=halving)
    outcomes, rungs = sw.run_sweep(sweep, halving=halving)
    ran = {i: sorted(o.job.seed for o in outcomes if o.job.plan.sweep["index"] == i) for i in range(3)}
    assert ran == {0: [0], 1: [0, 1, 2, 3], 2: [0, 1]}  # lr 0 (no learning) stopped after one seed
    assert [r.kept for r in rungs] == [[1, 2], [1], [1]] and rungs[0].scores[0] < -10  # -IQM of the mse
    assert len(outcomes) == 7 < 12
    rung_of = {(o.job.plan.sweep["index"], o.job.seed): o.job.plan.sweep["rung"] for o in outcomes}
    assert rung_of[(1, 3)] == 2 and _config(Path(outcomes[-1].summary["run_dir"]))["sweep"]["halving"] == {
        "eta": 2, "min_seeds": 1}


def _fake_run(root: Path, name: str, seed: int, value: float, *, anchor: float, baseline: float,
              group: str = "rl", sweep: dict | None = None, metric: str = "eval/return") -> None:
    folder = root / name / f"{seed}-2026{len(list((root / name).glob('*'))) if (root / name).exists() else 0:04d}"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({
        "experiment": name, "seed": seed, "budget": "quick", "status": "done", "metrics": {metric: value},
        "expect": {"metric": metric, "op": ">=", "threshold": anchor, "passed": value >= anchor},
        "anchor": {"metric": metric, "value": anchor, "source": "test"}, "baseline": {"value": baseline},
        "group": group, "wall_seconds": 1.0}))
    (folder / "config.json").write_text(json.dumps({"config": {"x": 1}, **({"sweep": sweep} if sweep else {})}))


def test_rl_aggregates_in_the_report(tmp_path):
    from dlfrontier import stats

    runs = tmp_path / "runs"
    scores = {"dqn-cartpole": [500, 400, 300], "ppo-cartpole": [500, 500, 450], "ppo-pendulum": [-200, -150, -300],
              "dqn-minatar-freeway": [30, 40, 50]}
    scale = {"dqn-cartpole": (20.0, 500.0), "ppo-cartpole": (20.0, 500.0), "ppo-pendulum": (-1200.0, -170.0),
             "dqn-minatar-freeway": (0.2, 0.2)}
    for name, values in scores.items():
        for seed, v in enumerate(values):
            _fake_run(runs, name, seed, float(v), baseline=scale[name][0], anchor=scale[name][1])
    _fake_run(runs, "lenet", 0, 0.9, anchor=0.99, baseline=0.1, group="compression")
    for seed, v in enumerate([51.0, -23.0, -134.0]):  # a difference between two learners is not a task's score
        _fake_run(runs, "selfplay-pool-vs-naive", seed, v, anchor=0.0, baseline=-9.8,
                  metric="eval/elo_pool_minus_naive")
    _fake_run(runs, "dqn-cartpole", 7, 0.0, anchor=500.0, baseline=20.0, sweep={"id": "../evil", "point": {}})
    _, md_path, _ = write_report(runs, tmp_path / "r.html", tmp_path / "r.md")
    md = md_path.read_text()
    sec = md[md.index("### RL aggregates"):]
    norm = {n: stats.normalize(v, *scale[n]) for n, v in scores.items() if n != "dqn-minatar-freeway"}
    iqm_all = stats.aggregate_iqm(list(norm.values()))
    assert f"| all RL experiments | 3 | 9 | {iqm_all:.4g} [" in sec
    gap_ppo = stats.optimality_gap([norm["ppo-cartpole"], norm["ppo-pendulum"]])
    assert "| ppo | 2 | 6 | " in sec and f"] | {gap_ppo:.4g} [" in sec
    poi = stats.probability_of_improvement([norm["dqn-cartpole"]], [norm["ppo-cartpole"]])
    assert f"| P(dqn > ppo) | cartpole | {poi:.4g} [" in sec
    assert "in the criterion's direction): dqn-minatar-freeway." in sec
    assert "a difference between two learners of one run, not a task score): selfplay-pool-vs-naive." in sec
    assert "lenet" not in sec and "](r_plots/rl-aggregate-profile.png)" in sec
    assert "Sweep malformed-sweep" in md  # a bad sweep entry is shown apart, never used as a file name


def test_points_completes_part_of_a_sweep_with_its_indices(tmp_path):
    sweep = sw.plan_sweep("toy-regression", [{"lr": "0.05"}, {"lr": "0.01"}], [0, 1], out=str(tmp_path))
    part = sw.only_points(sweep, "1")
    assert part.n_runs == 2 and [j.plan.sweep["index"] for j in part.jobs[1]] == [1, 1] and part.id == sweep.id
    for bad in ("2", "x", ","):
        with pytest.raises(ConfigError, match="--points"):
            sw.only_points(sweep, bad)
