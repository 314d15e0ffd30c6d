"""Small reference networks and model utilities shared by experiments (the LeNets of the Deep Compression table,
the classifier training loop, parameter counts and latency)."""

from dlfrontier.models.lenet import LeNet5, LeNet300100
from dlfrontier.models.measure import count_params, latency_ms

__all__ = ["LeNet300100", "LeNet5", "count_params", "latency_ms"]
