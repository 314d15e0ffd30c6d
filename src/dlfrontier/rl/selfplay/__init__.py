"""Self-play and game-theoretic learning: masked self-play PPO, opponent pools, leagues and ratings (issue 19)."""
