"""The dual-learning game's reward and the two models' losses (He et al., NIPS 2016, Algorithm 1).

A game starts from a monolingual sentence ``s`` of language A. The primal model (A->B) samples K middle
translations ``s_mid``; each gets the reward

    r = alpha * log P_LM_B(s_mid) / |s_mid|  +  (1 - alpha) * log P_BA(s | s_mid) / |s|

(the target language model's fluency and the dual model's reconstruction of the original, both per token: the
paper writes the raw log-likelihoods with alpha = 0.005; per-token averages keep long and short sentences on one
scale, so alpha here weighs two numbers of the same size). The primal model follows the policy gradient
``(r - b) * grad log P_AB(s_mid | s)`` with ``b`` the mean reward of the sentence's other K - 1 samples (Luo 2020's
baseline, :func:`~dlfrontier.multimodal.captioning.training.nsc_baseline`; no reward clipping, the gradient norm
is clipped); the dual model maximises ``(1 - alpha) * log P_BA(s | s_mid)`` (the paper's gradient for it), per token.
"""

from __future__ import annotations

import torch


def dual_reward(lm_logp: torch.Tensor, lm_tokens: torch.Tensor, recon_logp: torch.Tensor,
                recon_tokens: torch.Tensor, alpha: float) -> torch.Tensor:
    """``alpha * lm_logp / lm_tokens + (1 - alpha) * recon_logp / recon_tokens``, all ``[N]``, without gradient.

    Args:
        lm_logp, lm_tokens: the target LM's log-likelihood of each middle translation and its scored tokens.
        recon_logp, recon_tokens: the dual model's log-likelihood of the original given the middle translation.
        alpha: the LM reward's weight in [0, 1].
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    lm = lm_logp.detach() / lm_tokens.clamp_min(1).to(lm_logp.dtype)
    recon = recon_logp.detach() / recon_tokens.clamp_min(1).to(recon_logp.dtype)
    return alpha * lm + (1.0 - alpha) * recon


def reconstruction_loss(recon_logp: torch.Tensor, recon_tokens: torch.Tensor, alpha: float) -> torch.Tensor:
    """The dual model's loss ``-(1 - alpha) * mean(recon_logp / recon_tokens)`` (differentiable in recon_logp)."""
    per_token = recon_logp / recon_tokens.clamp_min(1).to(recon_logp.dtype)
    return -(1.0 - alpha) * per_token.mean()


__all__ = ["dual_reward", "reconstruction_loss"]
