"""Shared RL plumbing: returns (n-step, GAE), replay buffers, networks, env factory, evaluation, the base class,
and the one run recipe (:mod:`~dlfrontier.rl.common.training`: evaluation points, checkpoints, resume).

Papers: Schulman et al., "High-Dimensional Continuous Control Using Generalized Advantage Estimation" (2015,
https://arxiv.org/abs/1506.02438); Schaul et al., "Prioritized Experience Replay" (2015,
https://arxiv.org/abs/1511.05952).
"""
