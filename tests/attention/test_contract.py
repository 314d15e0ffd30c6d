"""Registry-driven contract tests: every registered attention module, whatever it is, must pass these."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlfrontier.attention import ATTENTION, attention_names, create_attention
from dlfrontier.errors import ConfigError, UnknownNameError

CHANNELS = 16


def _input(name: str, batch: int, h: int, w: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    kind = ATTENTION.get(name).kind
    if kind in ("image", "upsample"):
        return torch.randn(batch, CHANNELS, h, w, dtype=dtype)
    return torch.randn(batch, h, CHANNELS, dtype=dtype)  # a sequence / set of h items


def _expected_shape(name: str, module: nn.Module, x: torch.Tensor) -> tuple[int, ...]:
    kind = ATTENTION.get(name).kind
    if kind == "upsample":
        s = module.scale
        return (x.shape[0], x.shape[1], x.shape[2] * s, x.shape[3] * s)
    if kind == "set":
        return (x.shape[0], module.f[-1].out_features)
    return tuple(x.shape)


def _build(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return create_attention(name, CHANNELS)


def test_registry_lists_every_module_of_the_lecture() -> None:
    expected = {"se", "cbam", "gc", "non-local", "pam", "cam", "danet", "oc", "asp-oc", "cc", "ema", "carafe", "mha"}
    assert expected | {"relation"} == set(attention_names())


@pytest.mark.parametrize("name", attention_names())
@pytest.mark.parametrize(("batch", "h", "w"), [(1, 7, 11), (2, 8, 8)])
def test_forward_shape_and_backward(name: str, batch: int, h: int, w: int) -> None:
    module = _build(name)
    x = _input(name, batch, h, w).requires_grad_(True)
    y = module(x)
    assert y.shape == _expected_shape(name, module, x)
    assert torch.isfinite(y).all()
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    grads = [p.grad for p in module.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads if g is not None)


@pytest.mark.parametrize("name", attention_names())
def test_zero_input_gives_no_nan(name: str) -> None:
    module = _build(name)
    x = torch.zeros_like(_input(name, 2, 7, 11)).requires_grad_(True)
    y = module(x)
    y.sum().backward()
    assert torch.isfinite(y).all() and x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", attention_names())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_is_kept(name: str, dtype: torch.dtype) -> None:
    module = _build(name).to(dtype)
    y = module(_input(name, 2, 5, 6, dtype))
    assert y.dtype == dtype


@pytest.mark.parametrize("name", attention_names())
def test_deterministic(name: str) -> None:
    x = _input(name, 2, 7, 11)
    a, b = _build(name, seed=3), _build(name, seed=3)
    torch.manual_seed(1)  # the same dropout masks in training mode
    ya = a(x)
    torch.manual_seed(1)
    torch.testing.assert_close(ya, b(x), rtol=0, atol=0)
    a.eval()
    torch.testing.assert_close(a(x), a(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", attention_names())
def test_float32_matches_float64(name: str) -> None:
    module = _build(name).eval()
    x = _input(name, 2, 6, 5, torch.float64)
    y32 = module.float()(x.float())
    y64 = module.double()(x)
    torch.testing.assert_close(y32.double(), y64, rtol=1e-4, atol=1e-4)


def test_unknown_name_and_bad_option_are_clear_errors() -> None:
    with pytest.raises(UnknownNameError, match="did you mean non-local"):
        create_attention("nonlocal", 8)
    with pytest.raises(ConfigError, match="valid options: recurrence, reduction"):
        create_attention("cc", 8, loops=2)
    with pytest.raises(ConfigError, match="multiple of num_heads"):
        create_attention("mha", 10, num_heads=3)
    with pytest.raises(ConfigError, match="divisible by groups"):
        create_attention("carafe", 10, groups=3)
