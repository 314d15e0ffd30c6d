"""dlfrontier: frontier deep learning techniques, runnable, tested and measured on an ordinary computer.

Public API (import what you need; heavy sub-packages load on first use)::

    from dlfrontier.experiments import EXPERIMENTS        # the experiment registry
    from dlfrontier.experiments.runner import run_one     # run one experiment for one seed
    from dlfrontier.data import load_mnist                # data loaders
"""

__version__ = "0.1.0"

from dlfrontier.errors import (  # noqa: E402
    CheckpointError,
    ConfigError,
    DataError,
    DLFrontierError,
    MissingDependencyError,
    UnknownNameError,
)
from dlfrontier.registry import Registry  # noqa: E402

__all__ = [
    "__version__",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "DLFrontierError",
    "MissingDependencyError",
    "Registry",
    "UnknownNameError",
]
