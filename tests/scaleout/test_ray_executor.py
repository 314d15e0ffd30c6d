"""``--executor ray`` on a real cluster (issue 23): a 2-node Ray cluster on this machine, inside a network namespace
with only loopback (``unshare -n``), runs tiny VQA runs. Checked: runs land on both nodes; their folders come back
to the driver's ``--out`` with the same bytes as a local run of the same seed; a worker killed (SIGKILL) mid-run is
retried from its last checkpoint and ends exactly where an uninterrupted run does; a run whose worker keeps dying
ends ``failed`` with the reason (resumable); Ctrl-C on the driver cancels the rest and keeps finished folders.

One cluster serves every test (tests/scaleout/ray_cluster.py, started once per module, ~70 s on 2 busy cores);
Ray's temp dir and every folder live in one temp dir removed afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("ray")

from dlfrontier.errors import DLFrontierError  # noqa: E402
from dlfrontier.experiments.ray_executor import RayOptions, land, pack, threads_for  # noqa: E402
from tests.scaleout.ray_cluster import NAME, TINY  # noqa: E402

SCRIPT = Path(__file__).with_name("ray_cluster.py")


def _netns() -> list[str] | None:
    """A command prefix that gives a child its own network namespace (only loopback), or ``None``."""
    for cmd in (["unshare", "-n"], ["unshare", "-r", "-n"]):  # root; an unprivileged user namespace
        try:
            if subprocess.run([*cmd, "sh", "-c", "ip link set lo up"], capture_output=True, timeout=30).returncode == 0:
                return cmd
        except (OSError, subprocess.TimeoutExpired):
            continue
    return None


@pytest.fixture(scope="module")
def cluster():
    netns = _netns()
    if netns is None:
        pytest.skip("needs a network namespace (unshare -n, or unshare -rn) so that Ray binds loopback only")
    work = Path(tempfile.mkdtemp(prefix="dlfr-ray-", dir="/tmp" if Path("/tmp").is_dir() else None))  # Ray's
    (work / "r").mkdir()  # socket paths must stay short
    (work / "t").mkdir()
    env = {**os.environ, "RAY_TMPDIR": str(work / "r"), "TMPDIR": str(work / "t"), "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.Popen([*netns, "sh", "-c", 'ip link set lo up && exec "$0" "$@"', sys.executable, str(SCRIPT),
                             str(work)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=400)
        assert proc.returncode == 0, out[-4000:]
        yield work, json.loads((work / "results.json").read_text())
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def _folder(root: Path, seed: int) -> Path:
    (found,) = (root / NAME).glob(f"{seed}-*")
    return found


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def _untimed_table(path: Path) -> dict:
    """A table without its wall-time column (``train s``: seconds of training)."""
    t = json.loads(path.read_text())
    keep = [i for i, c in enumerate(t["columns"]) if c != "train s"]
    return {**t, "rows": [[r[i] for i in keep] for r in t["rows"]]}


def _same_as_local(work: Path, folder: Path, seed: int) -> None:
    local = _folder(work / "local", seed)
    assert (folder / "metrics.csv").read_bytes() == (local / "metrics.csv").read_bytes()
    assert (folder / "tables/question_types.json").read_bytes() == (local / "tables/question_types.json").read_bytes()
    assert _untimed_table(folder / "tables/accuracy.json") == _untimed_table(local / "tables/accuracy.json")
    mine, theirs = (json.loads((f / "config.json").read_text()) for f in (folder, local))
    for c in (mine, theirs):
        del c["started"], c["command"]
    assert mine == theirs


@pytest.mark.slow  # the cluster's scenarios: ~65 s once for all six
def test_the_cluster_has_two_nodes_on_loopback_only(cluster):
    _, r = cluster
    assert len(r["nodes"]) == 2 and r["addresses"] == ["127.0.0.1"] and r["local_rc"] == 0


@pytest.mark.slow  # the cluster's scenarios: ~65 s once for all six
def test_runs_land_on_both_nodes_and_their_folders_come_back_to_the_driver(cluster):
    work, r = cluster
    assert r["cli"]["rc"] == 0, r["cli"]["stderr"]
    nodes = set()
    for seed in (0, 1):
        folder = _folder(work / "ray", seed)
        s = _summary(folder)
        assert s["status"] == "done" and s["run_dir"] == str(folder) and "process" not in s
        assert s["ray"]["node_id"] in r["nodes"] and s["ray"]["attempts"] == 1
        nodes.add(s["ray"]["node_id"])
        names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        assert {"config.json", "metrics.csv", "summary.json", "tables/accuracy.json"} <= names
        assert any(n.startswith("tb/events.out.tfevents") for n in names) and "checkpoint.pt" not in names
        assert "--executor" in json.loads((folder / "config.json").read_text())["command"]  # the driver's command
        _same_as_local(work, folder, seed)
    assert len(nodes) == 2  # one run on each node
    assert "2 of 2 runs done" in r["cli"]["stdout"]
    assert not [p for p in (work / "ray").rglob("*") if p.name.startswith(".ray-landing")]


@pytest.mark.slow  # the cluster's scenarios: ~65 s once for all six
def test_a_worker_killed_mid_run_is_retried_from_its_checkpoint_and_finishes(cluster):
    work, r = cluster
    (killed,) = [k for k in r["kill"]["killed"] if k["seed"] == 0]
    (o,) = [o for o in r["kill"]["outcomes"] if o["seed"] == 0]
    assert o["error"] is None and o["summary"]["status"] == "done"
    record = o["summary"]["ray"]
    assert record["attempts"] == 2 and record["resumed_from_step"] == 2 and record["pid"] != killed["pid"]
    assert len(record["worker_deaths"]) == 1 and "WorkerCrashedError" in record["worker_deaths"][0]
    folder = _folder(work / "kill", 0)
    assert _summary(folder)["ray"] == record
    _same_as_local(work, folder, 0)  # a resumed supervised run ends exactly where an uninterrupted one does


@pytest.mark.slow  # the cluster's scenarios: ~65 s once for all six
def test_a_run_whose_worker_keeps_dying_ends_failed_with_the_reason_and_can_be_resumed(cluster):
    import dlfrontier.experiments  # noqa: F401
    from dlfrontier.experiments.runner import plan_run

    work, r = cluster
    (o,) = [o for o in r["kill"]["outcomes"] if o["seed"] == 1]
    assert o["summary"] is None and "died 2 time(s)" in o["error"] and "--max-retries 1" in o["error"]
    folder = _folder(work / "kill", 1)
    s = _summary(folder)
    assert s["status"] == "failed" and s["error"] == o["error"] and "process" not in s
    assert (folder / "checkpoint.pt").is_file()
    plan = plan_run(NAME, 1, overrides=TINY, out=work / "kill", device="cpu", resume=True)
    assert plan.run_dir == folder and plan.checkpoint.step == 4  # the second attempt's checkpoint


@pytest.mark.slow  # the cluster's scenarios: ~65 s once for all six
def test_with_a_shared_out_the_worker_writes_there_and_a_retry_continues_the_same_folder(cluster):
    work, r = cluster
    (o,) = r["shared"]["outcomes"]
    assert o["error"] is None and o["summary"]["status"] == "done"
    assert o["summary"]["ray"]["attempts"] == 2 and o["summary"]["ray"]["resumed_from_step"] == 2
    folder = _folder(work / "shared", 0)  # one folder: the retry continued it in place
    s = _summary(folder)
    assert s["status"] == "done" and s["run_dir"] == str(folder) and s["ray"] == o["summary"]["ray"]
    assert (folder / "checkpoint.pt").is_file()  # written there by the run itself
    _same_as_local(work, folder, 0)


@pytest.mark.slow  # the cluster's scenarios: ~65 s once for all six
def test_ctrl_c_on_the_driver_cancels_the_rest_and_keeps_finished_folders(cluster):
    work, r = cluster
    c = r["cancel"]
    assert c["interrupted"], c
    assert len(c["outcomes"]) == 1, c
    assert c["free_cpus"] == 2, c  # no task left
    (first,) = c["outcomes"]
    assert first["summary"]["status"] == "done" and first["seed"] != 3  # seed 3 runs 400 epochs
    statuses = {f.name.split("-")[0]: _summary(f)["status"] for f in (work / "cancel" / NAME).iterdir()}
    assert statuses[str(first["seed"])] == "done"
    assert set(statuses.values()) <= {"done", "interrupted"} and list(statuses.values()).count("done") == 1
    # two CPUs, two runs at a time: the third never started
    assert len(statuses) == 2
    for seed, status in statuses.items():
        folder = _folder(work / "cancel", int(seed))
        if status == "interrupted":  # kept from its last snapshot; --resume continues it from its checkpoint
            assert (folder / "config.json").is_file() and "process" not in _summary(folder)
    assert not list((work / "t").glob("dlfrontier-ray-*"))  # the cancelled workers removed their staging folders


# ------------------------------------------------------------------------------------- without a cluster


def test_a_folder_lands_whole_and_replaces_its_older_self(tmp_path):
    src = tmp_path / "src"
    (src / "tables").mkdir(parents=True)
    (src / "summary.json").write_text(json.dumps({"status": "running", "process": {"pid": 1}}))
    (src / "metrics.csv").write_text("step,key,value\n")
    (src / "tables/t.json").write_text("{}")
    (src / "checkpoint.pt").write_bytes(b"x")
    (src / ".metrics.csv.abc.tmp").write_text("half")
    files = pack(src, checkpoint=False)
    assert sorted(files) == ["metrics.csv", "summary.json", "tables/t.json"]
    out = tmp_path / "out"
    first = land(files, out, "exp", "0-1", {"status": "done", "process": None})
    again = land({**files, "metrics.csv": b"step,key,value\n1,a,2.0\r\n"}, out, "exp", "0-1",
                 {"status": "done", "process": None})
    assert first == again == out / "exp" / "0-1"
    s = json.loads((again / "summary.json").read_text())
    assert s["status"] == "done" and "process" not in s and s["run_dir"] == str(again)
    assert (again / "metrics.csv").read_bytes().endswith(b"1,a,2.0\r\n") and sorted(os.listdir(out)) == ["exp"]


@pytest.mark.parametrize("bad", ["../escape", "/abs", "a/../../b", ""])
def test_a_shipped_file_outside_its_run_folder_is_refused(tmp_path, bad):
    with pytest.raises(DLFrontierError, match="refused"):
        land({bad: b"x"}, tmp_path, "exp", "0-1", {})
    assert not (tmp_path.parent / "escape").exists() and not (tmp_path / "exp").exists()


def test_resources_and_threads_are_checked_before_anything_starts():
    assert threads_for(None, None) == (1, 1.0) and threads_for(None, 2) == (2, 2.0)
    assert threads_for(None, 0.5) == (1, 0.5) and threads_for(4, None) == (4, 4.0)
    for bad in (RayOptions(cpus_per_run=0), RayOptions(cpus_per_run=1.5), RayOptions(gpus_per_run=-1),
                RayOptions(max_retries=-1)):
        with pytest.raises(DLFrontierError):
            bad.validate()
    with pytest.raises(DLFrontierError, match="disagree"):
        threads_for(3, 2)
    RayOptions(cpus_per_run=0.5, gpus_per_run=0.25).validate()


@pytest.mark.parametrize(("args", "message"), [
    (["--cpus-per-run", "2"], "--cpus-per-run: only with --executor ray"),
    (["--executor", "ray", "--cpus-per-run", "0"], "--cpus-per-run 0.0: expected a number > 0"),
    (["--executor", "ray", "--gpus-per-run", "1.5"], "--gpus-per-run 1.5: expected a number >= 0"),
    (["--executor", "ray", "--max-retries", "-1"], "--max-retries -1: expected a whole number >= 0"),
    (["--executor", "ray", "--threads", "2", "--cpus-per-run", "4"], "--threads 2 and --cpus-per-run 4 disagree"),
])
def test_bad_ray_flags_are_one_line_before_any_run_folder(tmp_path, capsys, args, message):
    from dlfrontier.cli import main

    assert main(["run", NAME, "--out", str(tmp_path / "runs"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "runs").exists()
