"""The experiment registry. Importing this package registers every experiment.

Every module of this package other than the machinery (``base``, ``config``, ``runner``, ``executors``) declares
the experiments of one capability with :func:`dlfrontier.experiments.base.register` when imported; a new
capability adds its own module here and nothing else needs to change. No experiment module imports another.
"""

import importlib
import pkgutil

from dlfrontier.experiments.base import (
    EXPERIMENTS,
    Anchor,
    Baseline,
    Budget,
    Expect,
    Experiment,
    Paired,
    register,
)
from dlfrontier.runtime import RunContext

_MACHINERY = {"base", "config", "runner", "executors", "sweep", "ray_executor"}
for _m in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _m not in _MACHINERY and not _m.startswith("_"):
        importlib.import_module(f"{__name__}.{_m}")

__all__ = ["EXPERIMENTS", "Anchor", "Baseline", "Budget", "Expect", "Experiment", "Paired", "RunContext", "register"]
