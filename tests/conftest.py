import os
from pathlib import Path

import pytest

# Tests read real data from the shared data root (see ../shared/data/README.md) unless told otherwise.
_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
if "DLFRONTIER_DATA" not in os.environ and _SHARED.is_dir():
    os.environ["DLFRONTIER_DATA"] = str(_SHARED)


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"
