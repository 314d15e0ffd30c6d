"""Where data sets live: ``$DLFRONTIER_DATA``, else ``~/.cache/dlfrontier``."""

from __future__ import annotations

import os
from pathlib import Path


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The data root: ``root`` if given, else ``$DLFRONTIER_DATA``, else ``~/.cache/dlfrontier``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("DLFRONTIER_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "dlfrontier"
