"""The experiment registry. Importing this package registers every experiment.

Every module of this package other than the machinery (``base``, ``runner``, ``executors``) registers
experiments with :func:`dlfrontier.experiments.base.experiment` when imported; a new capability adds its
own module here (e.g. ``rl.py``) and nothing else needs to change.
"""

import importlib
import pkgutil

from dlfrontier.experiments.base import (
    EXPERIMENTS,
    Anchor,
    Expect,
    Experiment,
    RunContext,
    experiment,
    rng_state,
    set_rng_state,
)

_MACHINERY = {"base", "runner", "executors"}
for _m in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _m not in _MACHINERY and not _m.startswith("_"):
        importlib.import_module(f"{__name__}.{_m}")

__all__ = [
    "EXPERIMENTS",
    "Anchor",
    "Expect",
    "Experiment",
    "RunContext",
    "experiment",
    "rng_state",
    "set_rng_state",
]
