"""Deep reinforcement learning (being written)."""
