"""The MuJoCo robot experiments: a missing `mujoco` extra is one line naming the install command, before any folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dlfrontier.experiments import EXPERIMENTS

# a few hundred steps of tiny networks: the experiment runs end to end, not a learning check
TINY = {"total_steps": "300", "eval_every": "300", "eval_episodes": "1", "algo.learning_starts": "100",
        "algo.batch_size": "16", "algo.hidden": "16,16"}

# run in a fresh interpreter where `import mujoco` fails, as on a machine without the extra
NO_MUJOCO = "import sys; sys.modules['mujoco'] = None; {body}"


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", NO_MUJOCO.format(body=code)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_robot_experiments_declare_the_mujoco_extra():
    robots = [n for n in EXPERIMENTS.names() if EXPERIMENTS.get(n).requires == (("mujoco", "mujoco"),)]
    assert {"sac-inverted-pendulum", "sac-reacher", "sac-hopper", "sac-halfcheetah", "ppo-halfcheetah",
            "td3-inverted-double-pendulum", "td3-pusher", "td3-walker2d"} <= set(robots)
    for name in robots:
        assert "(v5)" in EXPERIMENTS.get(name).summary  # numbers are on the v5 envs, and say so


def test_run_without_mujoco_is_one_line_and_writes_nothing(tmp_path: Path):
    out = tmp_path / "runs"
    argv = ["run", "sac-inverted-pendulum", "--out", str(out)]
    p = _python(f"from dlfrontier.cli import main; sys.exit(main({argv!r}))", tmp_path)
    lines = p.stderr.strip().splitlines()
    assert p.returncode != 0 and len(lines) == 1, p.stderr
    assert 'pip install "dlfrontier[mujoco]"' in lines[0]
    assert not out.exists()


def test_an_agent_on_a_mujoco_env_without_mujoco_names_the_extra(tmp_path: Path):
    p = _python("from dlfrontier.rl import SAC\ntry:\n    SAC('Hopper-v5')\nexcept ImportError as e:\n    print(e)",
                tmp_path)
    assert p.returncode == 0, p.stderr
    assert 'Hopper-v5 needs MuJoCo; install it with: pip install "dlfrontier[mujoco]"' in p.stdout


def test_eval_gif_of_a_mujoco_run_renders_headless(tmp_path: Path, monkeypatch, capsys):
    from PIL import Image

    from dlfrontier.cli import main
    from dlfrontier.experiments.runner import run_one

    s = run_one("sac-inverted-pendulum", 0, out=tmp_path / "runs", device="cpu", overrides=TINY, tensorboard=False)
    assert s["status"] == "done"
    run = next((tmp_path / "runs" / "sac-inverted-pendulum").iterdir())
    monkeypatch.chdir(tmp_path)
    assert main(["eval", str(run), "--episodes", "1", "--gif", "robot.gif", "--device", "cpu"]) == 0
    assert "wrote robot.gif" in capsys.readouterr().out
    with Image.open(tmp_path / "robot.gif") as img:
        assert img.format == "GIF" and img.n_frames >= 2
        frame = np.asarray(img.convert("RGB"), dtype=np.float32)
    assert frame.std() > 5.0  # a rendered scene, not a blank frame


def test_the_gif_camera_follows_a_locomotion_robot():
    import mujoco

    import dlfrontier.rl.robot  # noqa: F401  (headless rendering: sets MUJOCO_GL before mujoco loads)
    from dlfrontier.rl.common.replay import gym_env, has_tracking_camera

    def robot_pixels(env) -> int:  # the hopper's brown body against the green floor and the blue sky
        f = np.asarray(env.render(), dtype=np.int32)
        return int(((f[..., 0] - f[..., 2]) > 60).sum())

    env = gym_env("Hopper-v5", width=96, height=96)(None, "rgb_array")
    free = gym_env("Hopper-v5", width=96, height=96, camera_id=-1)(None, "rgb_array")  # Gymnasium's default view
    assert has_tracking_camera(env) and not has_tracking_camera(gym_env("Pendulum-v1")(None, None))
    counts = []
    for e in (env, free):
        e.reset(seed=0)
        before = robot_pixels(e)
        e.unwrapped.data.qpos[0] = 20.0  # the robot 20 m down the track
        mujoco.mj_forward(e.unwrapped.model, e.unwrapped.data)
        counts.append((before, robot_pixels(e)))
    (tracked0, tracked1), (free0, free1) = counts
    assert tracked0 > 30 and free0 > 30  # both see it at the start
    assert tracked1 > 30 and free1 == 0  # only the tracking camera still does


@pytest.mark.parametrize("name,env_id", [("td3-inverted-double-pendulum", "InvertedDoublePendulum-v5"),
                                         ("td3-pusher", "Pusher-v5"), ("td3-walker2d", "Walker2d-v5")])
def test_the_issues_other_tasks_run_through_their_experiments(tmp_path: Path, name: str, env_id: str):
    from dlfrontier.experiments.runner import run_one

    s = run_one(name, 0, out=tmp_path / "runs", device="cpu", overrides=TINY, tensorboard=False)
    assert s["status"] == "done" and np.isfinite(s["metrics"]["eval/return"])
    assert EXPERIMENTS.get(name).run.keywords["env_id"] == env_id  # wired to the issue's task
    # the quick criterion clears the measured random policy's return
    assert s["baseline"]["value"] < s["expect"]["threshold"]
