"""SmallResNet with SE / CBAM / GC on its residual branches (dlfrontier.attention.resnet)."""

from __future__ import annotations

import pytest
import torch

from dlfrontier.attention.resnet import BasicBlock, FashionConfig, SmallResNet


@pytest.mark.parametrize("attention", [None, "se", "cbam", "gc"])
def test_shapes_and_attention_params(attention: str | None) -> None:
    model = SmallResNet(attention)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert (model.attention_params() > 0) == (attention is not None)
    assert sum(isinstance(m, BasicBlock) for m in model.modules()) == 3


def test_same_seed_same_network() -> None:
    torch.manual_seed(3)
    a = SmallResNet("se")
    torch.manual_seed(3)
    b = SmallResNet("se")
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_config_none_means_all_and_zero_is_refused() -> None:
    cfg = FashionConfig()
    assert cfg.test_subset is None and cfg.train_subset is None
    with pytest.raises(ValueError, match="test_subset"):
        FashionConfig(test_subset=0)
    with pytest.raises(ValueError, match="train_subset"):
        FashionConfig(train_subset=0)
