import pytest

from dlfrontier.runtime import cpu_threads


@pytest.fixture(autouse=True)
def one_thread():
    """Small LeNets train fastest single-threaded; two threads on a shared 2-core machine can be 30x slower."""
    with cpu_threads(1):
        yield
