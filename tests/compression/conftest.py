import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Small LeNets train fastest single-threaded; two threads on a shared 2-core machine can be 30x slower."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
