import os
from pathlib import Path

import pytest
import torch

# One torch thread per test process, as the CLI's runs (`--threads 1`, the published numbers' setting): the same numbers
# with or without pytest-xdist, and no oversubscription (two xdist workers of two threads each on two cores ran
# the attention, dual and physics learning tests 3x slower: 185 s against 59 s, measured 2026-12-02).
torch.set_num_threads(1)

# Tests read real data from the shared data root (see ../shared/data/README.md) unless told otherwise.
_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
if "DLFRONTIER_DATA" not in os.environ and _SHARED.is_dir():
    os.environ["DLFRONTIER_DATA"] = str(_SHARED)


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture(autouse=True)
def _unpin_threads():
    """The CLI pins torch's thread count for its process (``--threads``); tests call it in-process, so undo that."""
    import torch

    from dlfrontier import runtime

    before = torch.get_num_threads()
    yield
    if runtime._PINNED is not None:
        runtime._PINNED = None
        torch.set_num_threads(before)
