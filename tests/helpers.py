"""Helpers shared by the tests of every capability."""

from pathlib import Path


class InterruptAt:
    """A progress sink that raises KeyboardInterrupt (as Ctrl-C would) when the run reaches ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def start(self, total, unit="steps"):
        pass

    def update(self, completed, **info):
        if completed >= self.step:
            raise KeyboardInterrupt


def only_run(out: Path, name: str, seed: int = 0) -> Path:
    """The single run folder of ``name`` and ``seed`` under ``out`` (fails if there are none or several)."""
    runs = list((out / name).glob(f"{seed}-*"))
    assert len(runs) == 1, runs
    return runs[0]
