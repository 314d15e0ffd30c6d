"""Small reference networks shared by experiments (the LeNets of the Deep Compression table)."""

from dlfrontier.models.lenet import LeNet5, LeNet300100

__all__ = ["LeNet300100", "LeNet5"]
