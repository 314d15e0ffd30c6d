"""The cluster side of tests/scaleout/test_ray_executor.py: run inside ``unshare -n`` (only loopback exists, so Ray
binds 127.0.0.1 and nothing else), it starts a 2-node Ray cluster on this machine (``ray.cluster_utils.Cluster``,
one CPU per node), runs the scenarios and writes ``results.json`` into the folder given as its argument; the
test reads the folders and that file. Ray's temp dir is ``$RAY_TMPDIR`` (set by the test, removed with it).

Usage: python ray_cluster.py WORK_DIR
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

NAME = "vqa-cnn-mlp"  # supervised: a resumed run ends exactly where an uninterrupted one does
TINY = {"train_images": "16", "test_images": "8", "epochs": "4", "batch_images": "8", "hidden": "16",
        "bn_images": "16", "bottom_up_steps": "3", "bottom_up_images": "16"}  # a checkpoint after each epoch
LONG = {**TINY, "epochs": "400"}  # still running when the others are done
MB = 2**20


def cli(*args: str) -> list[str]:
    sets = [a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]
    return [sys.executable, "-m", "dlfrontier", "run", NAME, *sets, *args]


def jobs(out: Path, seeds: dict[int, dict[str, str]]) -> list:
    from dlfrontier.experiments.executors import Job
    from dlfrontier.experiments.runner import plan_run

    return [Job(plan_run(NAME, s, overrides=o, out=out, device="cpu")) for s, o in seeds.items()]


def outcome(o) -> dict:
    return {"seed": o.job.seed, "summary": o.summary, "error": o.error}


def kill_and_retry(work: Path) -> dict:
    """Seed 0's worker is killed (SIGKILL) at its first checkpoint and retried; seed 1's at every attempt's first
    checkpoint, so it is given up after one retry."""
    from dlfrontier.experiments.ray_executor import RayOptions, run_ray_jobs

    killed = []

    def on_checkpoint(job, info):  # the worker waits inside its checkpoint while this runs: killed mid-run
        if info["checkpoint"] == 1 and (job.seed == 1 or info["attempt"] == 0):
            os.kill(info["pid"], signal.SIGKILL)
            killed.append({"seed": job.seed, **info})

    done = run_ray_jobs(jobs(work / "kill", {0: TINY, 1: TINY}), RayOptions(max_retries=1),
                        on_checkpoint=on_checkpoint)
    return {"outcomes": [outcome(o) for o in done], "killed": killed}


def shared_out(work: Path) -> dict:
    """--ray-shared-out: the worker writes into --out itself; killed at its first checkpoint, the retry continues
    the same folder there."""
    from dlfrontier.experiments.ray_executor import RayOptions, run_ray_jobs

    killed = []

    def on_checkpoint(job, info):
        if info["checkpoint"] == 1 and info["attempt"] == 0:
            os.kill(info["pid"], signal.SIGKILL)
            killed.append(info)

    done = run_ray_jobs(jobs(work / "shared", {0: TINY}), RayOptions(max_retries=1, shared_out=True),
                        on_checkpoint=on_checkpoint)
    return {"outcomes": [outcome(o) for o in done], "killed": killed}


def ctrl_c(work: Path) -> dict:
    """A real SIGINT to this driver once the first run is done: the others are cancelled (pending or running)."""
    import ray

    from dlfrontier.experiments.ray_executor import RayOptions, run_ray_jobs

    # Python turns SIGINT into KeyboardInterrupt only if SIGINT was not ignored when it started, and a shell ignores it
    # in background jobs (as when CI runs under nohup/&): install the handler a terminal session has
    signal.signal(signal.SIGINT, signal.default_int_handler)
    seen, at = [], []

    def on_outcome(o):
        seen.append(outcome(o))
        if len(seen) == 1:
            at.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)

    interrupted = False
    try:
        run_ray_jobs(jobs(work / "cancel", {2: TINY, 3: LONG, 4: TINY}), RayOptions(), on_outcome=on_outcome)
    except KeyboardInterrupt:
        interrupted = True
    took = time.monotonic() - at[0] if at else None
    deadline = time.monotonic() + 60  # a force-cancelled worker may take a while to exit on a loaded machine
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)  # every task gone: both CPUs free again
    return {"interrupted": interrupted, "outcomes": seen, "seconds_to_stop": took,
            "free_cpus": ray.available_resources().get("CPU", 0)}


def main(work: Path) -> None:
    import ray
    from ray.cluster_utils import Cluster

    results: dict = {}
    log = open(work / "local.log", "w")
    local = subprocess.Popen(cli("--seeds", "0,1", "--out", str(work / "local")), stdout=log, stderr=log)
    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 80 * MB}
    t0 = time.monotonic()
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    try:
        cluster.add_node(**node)
        cluster.wait_for_nodes()
        results["cluster_seconds"] = time.monotonic() - t0
        t0 = time.monotonic()
        p = subprocess.run(cli("--seeds", "0,1", "--out", str(work / "ray"), "--executor", "ray", "--ray-address",
                               cluster.address, "--cpus-per-run", "1"), capture_output=True, text=True, timeout=180)
        results["cli"] = {"rc": p.returncode, "stdout": p.stdout[-4000:], "stderr": p.stderr[-4000:],
                          "seconds": time.monotonic() - t0}
        ray.init(address=cluster.address, logging_level=logging.WARNING)
        results["nodes"] = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        results["addresses"] = sorted({n["NodeManagerAddress"] for n in ray.nodes()})
        for name, scenario in (("kill", kill_and_retry), ("shared", shared_out), ("cancel", ctrl_c)):
            t0 = time.monotonic()
            results[name] = scenario(work)
            results[name]["seconds"] = time.monotonic() - t0
    finally:
        ray.shutdown()
        cluster.shutdown()
        local.wait(timeout=180)
        results["local_rc"] = local.returncode
        (work / "results.json").write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
