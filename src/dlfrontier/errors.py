"""Errors a user can cause and fix; the CLI prints them as one line and exits non-zero."""


class DLFrontierError(Exception):
    """Base class of every user-facing error of dlfrontier (bad name, bad config, missing data, ...)."""


class UnknownNameError(DLFrontierError, KeyError):
    """A name that is not in a registry."""

    def __str__(self) -> str:  # KeyError quotes its message; we want the plain sentence
        return str(self.args[0]) if self.args else ""


class ConfigError(DLFrontierError, ValueError):
    """A config override that names an unknown key or has the wrong type."""


class DataError(DLFrontierError, OSError):
    """Data files missing, truncated or not in the expected format."""


class CheckpointError(DLFrontierError, RuntimeError):
    """A checkpoint that cannot be read (corrupt, truncated, from another experiment)."""


class MissingDependencyError(DLFrontierError, ImportError):
    """An optional dependency (an extra) is not installed."""


def require(module: str, extra: str):
    """Import an optional dependency or raise an error naming the extra that installs it.

    Args:
        module: the module to import, e.g. ``"ale_py"``.
        extra: the dlfrontier extra that provides it, e.g. ``"atari"``.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(
            f"{module} is not installed; install it with: pip install \"dlfrontier[{extra}]\""
        ) from e
