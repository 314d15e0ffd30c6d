"""Each module against a slow, obviously-correct reference (loops or full matrices), in float64 at 1e-5."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlfrontier.attention import (
    CARAFE,
    CBAM,
    ChannelAttention,
    CrissCrossAttention,
    DualAttention,
    EMAttention,
    GlobalContext,
    MultiHeadAttention,
    NonLocalBlock,
    ObjectContextAttention,
    PositionAttention,
    RecurrentCrissCross,
    RelationModule,
    SqueezeExcite,
)
from dlfrontier.attention.carafe import reassemble
from dlfrontier.attention.ema import em_step

TOL = {"rtol": 1e-5, "atol": 1e-5}
D = torch.float64


def _randomise(module: nn.Module, std: float = 0.3) -> nn.Module:
    """Random weights everywhere (zero-initialised gates would hide the attention path) and eval mode."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, std)
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return module.double().eval()


def _pix(conv: nn.Conv2d, v: torch.Tensor) -> torch.Tensor:
    """A 1x1 convolution applied to one pixel's vector ``[C]``."""
    w = conv.weight[:, :, 0, 0]
    return w @ v + (conv.bias if conv.bias is not None else 0.0)


def _softmax(values: list[torch.Tensor]) -> list[torch.Tensor]:
    m = max(float(v.detach()) for v in values)
    e = [torch.exp(v - m) for v in values]
    s = sum(e)
    return [x / s for x in e]


# ------------------------------------------------------------------------------------------------ MHA


def test_mha_matches_the_formula_with_masks_and_cross_attention() -> None:
    torch.manual_seed(1)
    b, lq, lk, dim, kdim, heads = 2, 3, 5, 8, 6, 2
    mha = _randomise(MultiHeadAttention(dim, num_heads=heads, kdim=kdim))
    q_in, kv_in = torch.randn(b, lq, dim, dtype=D), torch.randn(b, lk, kdim, dtype=D)
    pad = torch.tensor([[False] * 5, [False, False, False, True, True]])
    blocked = torch.zeros(lq, lk, dtype=torch.bool)
    blocked[0, 1] = True
    out, weights = mha(q_in, kv_in, key_padding_mask=pad, attn_mask=blocked, need_weights=True)
    fused = mha(q_in, kv_in, key_padding_mask=pad, attn_mask=blocked)
    d = dim // heads
    ref = torch.zeros(b, lq, dim, dtype=D)
    for n in range(b):
        q = q_in[n] @ mha.q_proj.weight.T + mha.q_proj.bias
        k = kv_in[n] @ mha.k_proj.weight.T + mha.k_proj.bias
        v = kv_in[n] @ mha.v_proj.weight.T + mha.v_proj.bias
        concat = torch.zeros(lq, dim, dtype=D)
        for h in range(heads):
            sl = slice(h * d, (h + 1) * d)
            for i in range(lq):
                allowed = [j for j in range(lk) if not pad[n, j] and not blocked[i, j]]
                w = _softmax([q[i, sl] @ k[j, sl] / math.sqrt(d) for j in allowed])
                for wj, j in zip(w, allowed, strict=True):
                    concat[i, sl] += wj * v[j, sl]
                    torch.testing.assert_close(weights[n, h, i, j], wj, **TOL)
        ref[n] = concat @ mha.out_proj.weight.T + mha.out_proj.bias
    torch.testing.assert_close(out, ref, **TOL)
    torch.testing.assert_close(fused, ref, **TOL)
    assert weights[1, :, :, 3:].abs().max() == 0  # padded keys get no weight


def test_mha_self_attention_and_float_masks_match_torch() -> None:
    torch.manual_seed(2)
    ours = _randomise(MultiHeadAttention(8, num_heads=4))
    ref = nn.MultiheadAttention(8, 4, batch_first=True).double().eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    x = torch.randn(3, 4, 8, dtype=D)
    causal = torch.triu(torch.full((4, 4), float("-inf"), dtype=D), diagonal=1)
    torch.testing.assert_close(ours(x, attn_mask=causal), ref(x, x, x, attn_mask=causal)[0], **TOL)


def test_mha_rejects_bad_masks() -> None:
    mha = MultiHeadAttention(8, num_heads=2)
    x = torch.randn(2, 3, 8)
    with pytest.raises(ValueError, match="key_padding_mask shape"):
        mha(x, key_padding_mask=torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool"):
        mha(x, key_padding_mask=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="attn_mask shape"):
        mha(x, attn_mask=torch.zeros(3, 4, dtype=torch.bool))


# ----------------------------------------------------------------------------------------- SE, CBAM, GC


def test_se_cbam_gc_match_loops() -> None:
    torch.manual_seed(3)
    c, h, w = 16, 3, 4
    x = torch.randn(2, c, h, w, dtype=D)
    se = _randomise(SqueezeExcite(c, reduction=4))
    cbam = _randomise(CBAM(c, reduction=4, kernel_size=3))
    gc = _randomise(GlobalContext(c, reduction=4))
    for n in range(2):
        pooled = torch.tensor([float(x[n, k].mean()) for k in range(c)], dtype=D)
        gate = torch.sigmoid(_pix(se.fc2, torch.relu(_pix(se.fc1, pooled))))
        torch.testing.assert_close(se(x)[n], x[n] * gate.view(c, 1, 1), **TOL)

        ch = cbam.channel
        mx = torch.tensor([float(x[n, k].max()) for k in range(c)], dtype=D)
        cgate = torch.sigmoid(
            _pix(ch.fc2, torch.relu(_pix(ch.fc1, pooled))) + _pix(ch.fc2, torch.relu(_pix(ch.fc1, mx)))
        )
        xc = x[n] * cgate.view(c, 1, 1)
        maps = torch.zeros(2, h + 2, w + 2, dtype=D)  # zero-padded mean and max maps
        for i, j in itertools.product(range(h), range(w)):
            maps[0, i + 1, j + 1] = xc[:, i, j].mean()
            maps[1, i + 1, j + 1] = xc[:, i, j].max()
        sgate = torch.zeros(h, w, dtype=D)
        kw = cbam.spatial.conv.weight[0]
        for i, j in itertools.product(range(h), range(w)):
            sgate[i, j] = torch.sigmoid((kw * maps[:, i : i + 3, j : j + 3]).sum() + cbam.spatial.conv.bias[0])
        torch.testing.assert_close(cbam(x)[n], xc * sgate, **TOL)

        logits = [_pix(gc.key, x[n, :, i, j])[0] for i, j in itertools.product(range(h), range(w))]
        weights = _softmax(logits)
        ctx = sum(wt * x[n, :, i, j] for wt, (i, j) in zip(weights, itertools.product(range(h), range(w)), strict=True))
        t1 = _pix(gc.transform[0], ctx)
        ln = gc.transform[1]
        t1 = (t1 - t1.mean()) / torch.sqrt(t1.var(unbiased=False) + ln.eps) * ln.weight.view(-1) + ln.bias.view(-1)
        add = _pix(gc.transform[3], torch.relu(t1))
        torch.testing.assert_close(gc(x)[n], x[n] + add.view(c, 1, 1), **TOL)


# --------------------------------------------------------------------------- Non-local, PAM, CAM, OC


def _bn(bn: nn.BatchNorm2d, v: torch.Tensor) -> torch.Tensor:
    return (v - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias


def test_non_local_is_explicit_softmax_qkt_v() -> None:
    torch.manual_seed(4)
    c, h, w = 6, 3, 5
    block = _randomise(NonLocalBlock(c))
    x = torch.randn(2, c, h, w, dtype=D)
    pos = list(itertools.product(range(h), range(w)))
    y = block(x)
    for n in range(2):
        for i, j in pos:
            theta = _pix(block.theta, x[n, :, i, j])
            wts = _softmax([theta @ _pix(block.phi, x[n, :, a, b]) for a, b in pos])
            agg = sum(wt * _pix(block.g, x[n, :, a, b]) for wt, (a, b) in zip(wts, pos, strict=True))
            z = _bn(block.out[1], _pix(block.out[0], agg)) + x[n, :, i, j]
            torch.testing.assert_close(y[n, :, i, j], z, **TOL)


def test_non_local_starts_as_identity() -> None:
    x = torch.randn(2, 8, 5, 4)
    torch.testing.assert_close(NonLocalBlock(8)(x), x, rtol=0, atol=0)
    torch.testing.assert_close(NonLocalBlock(8, use_bn=False, subsample=True)(x), x, rtol=0, atol=0)


def test_pam_cam_and_oc_are_explicit_attention() -> None:
    torch.manual_seed(5)
    c, h, w = 16, 3, 4
    x = torch.randn(2, c, h, w, dtype=D)
    pos = list(itertools.product(range(h), range(w)))
    pam = _randomise(PositionAttention(c))
    cams = [_randomise(ChannelAttention(c)), _randomise(ChannelAttention(c, official_code=True))]
    oc = _randomise(ObjectContextAttention(c, key_channels=4))
    y_pam, y_oc = pam(x), oc(x)
    for n in range(2):
        for i, j in pos:
            q = _pix(pam.query, x[n, :, i, j])
            wts = _softmax([q @ _pix(pam.key, x[n, :, a, b]) for a, b in pos])
            agg = sum(wt * _pix(pam.value, x[n, :, a, b]) for wt, (a, b) in zip(wts, pos, strict=True))
            torch.testing.assert_close(y_pam[n, :, i, j], pam.gamma * agg + x[n, :, i, j], **TOL)

            def f(v: torch.Tensor) -> torch.Tensor:
                return torch.relu(_bn(oc.key[1], oc.key[0].weight[:, :, 0, 0] @ v))

            wts = _softmax([f(x[n, :, i, j]) @ f(x[n, :, a, b]) / 2.0 for a, b in pos])  # sqrt(key_channels) = 2
            agg = sum(wt * _pix(oc.value, x[n, :, a, b]) for wt, (a, b) in zip(wts, pos, strict=True))
            torch.testing.assert_close(y_oc[n, :, i, j], _pix(oc.out, agg), **TOL)
        flat = x[n].reshape(c, -1)
        for cam, sign in zip(cams, (1.0, -1.0), strict=True):
            y = cam(x)[n].reshape(c, -1)
            for j in range(c):
                wts = _softmax([sign * (flat[i] @ flat[j]) for i in range(c)])
                torch.testing.assert_close(
                    y[j], cam.gamma * sum(wt * flat[i] for i, wt in enumerate(wts)) + flat[j], **TOL
                )
    danet = _randomise(DualAttention(c))
    torch.testing.assert_close(danet(x), danet.pam(x) + danet.cam(x), rtol=0, atol=0)


# --------------------------------------------------------------------------------------- criss-cross


def test_criss_cross_is_full_attention_restricted_to_row_and_column() -> None:
    torch.manual_seed(6)
    c, h, w = 16, 4, 5
    cca = _randomise(CrissCrossAttention(c))
    x = torch.randn(2, c, h, w, dtype=D)
    y = cca(x)
    for n, i, j in itertools.product(range(2), range(h), range(w)):
        cross = sorted({(a, j) for a in range(h)} | {(i, b) for b in range(w)})  # the centre once
        assert len(cross) == h + w - 1
        q = _pix(cca.query, x[n, :, i, j])
        wts = _softmax([q @ _pix(cca.key, x[n, :, a, b]) for a, b in cross])
        agg = sum(wt * _pix(cca.value, x[n, :, a, b]) for wt, (a, b) in zip(wts, cross, strict=True))
        torch.testing.assert_close(y[n, :, i, j], cca.gamma * agg + x[n, :, i, j], **TOL)


@pytest.mark.parametrize(("recurrence", "full"), [(1, False), (2, True)])
def test_two_loops_reach_every_pixel(recurrence: int, full: bool) -> None:
    block = _randomise(RecurrentCrissCross(8, recurrence=recurrence))
    x = torch.randn(1, 8, 5, 6, dtype=D, requires_grad=True)
    block(x)[0, :, 0, 0].sum().backward()
    assert x.grad is not None
    reach = x.grad[0].abs().sum(0) > 0  # [H, W]: which inputs influence the pixel (0, 0)
    assert bool(reach[4, 5]) is full  # off the pixel's row and column
    assert bool(reach[0, 5]) and bool(reach[4, 0])
    ref = block.cca(block.cca(x)) if recurrence == 2 else block.cca(x)
    torch.testing.assert_close(block(x), ref, rtol=0, atol=0)


# ------------------------------------------------------------------------------------------------ CARAFE


def _carafe_loops(x: torch.Tensor, kernels: torch.Tensor, k: int, groups: int, s: int) -> torch.Tensor:
    b, c, h, w = x.shape
    r = k // 2
    out = torch.zeros(b, c, h * s, w * s, dtype=x.dtype)
    for n, ch, oi, oj in itertools.product(range(b), range(c), range(h * s), range(w * s)):
        g = ch // (c // groups)
        i, j = oi // s, oj // s
        total = torch.zeros((), dtype=x.dtype)
        for dy, dx in itertools.product(range(k), range(k)):
            si, sj = i + dy - r, j + dx - r
            if 0 <= si < h and 0 <= sj < w:  # zero padding outside
                total = total + kernels[n, g * k * k + dy * k + dx, oi, oj] * x[n, ch, si, sj]
        out[n, ch, oi, oj] = total
    return out


@pytest.mark.parametrize(("k", "groups", "s"), [(3, 2, 2), (5, 1, 3)])
def test_carafe_is_the_per_pixel_weighted_sum(k: int, groups: int, s: int) -> None:
    torch.manual_seed(7)
    up = _randomise(CARAFE(4, scale=s, k_up=k, groups=groups, compressed_channels=3))
    x = torch.randn(2, 4, 3, 4, dtype=D)
    kernels = up.kernels(x)
    torch.testing.assert_close(
        kernels.view(2, groups, k * k, 3 * s, 4 * s).sum(2), torch.ones(2, groups, 3 * s, 4 * s, dtype=D)
    )
    torch.testing.assert_close(up(x), _carafe_loops(x, kernels, k, groups, s), **TOL)


def test_carafe_with_centre_kernels_is_nearest_upsampling() -> None:
    x = torch.randn(1, 3, 4, 5, dtype=D)
    kernels = torch.zeros(1, 9, 8, 10, dtype=D)
    kernels[:, 4] = 1.0  # the centre of every 3x3 window
    torch.testing.assert_close(
        reassemble(x, kernels, kernel_size=3, groups=1, scale=2), F.interpolate(x, scale_factor=2.0)
    )


# --------------------------------------------------------------------------------------------------- EMA


def test_em_steps_are_the_papers() -> None:
    torch.manual_seed(8)
    b, c, n, k = 2, 5, 7, 3
    x, mu = torch.randn(b, c, n, dtype=D), F.normalize(torch.randn(b, c, k, dtype=D), dim=1)
    z, new_mu = em_step(x, mu)
    for bb in range(b):
        for i in range(n):  # E step: z_nk = exp(x_n . mu_k) / sum_j exp(x_n . mu_j)
            ref = _softmax([x[bb, :, i] @ mu[bb, :, kk] for kk in range(k)])
            torch.testing.assert_close(z[bb, i], torch.stack(ref), **TOL)
        for kk in range(k):  # M step: mu_k = sum_n z_nk x_n / sum_n z_nk, then L2-normalised
            m = sum(z[bb, i, kk] * x[bb, :, i] for i in range(n)) / (1e-6 + z[bb, :, kk].sum())
            torch.testing.assert_close(new_mu[bb, :, kk], m / m.norm(), **TOL)


def test_ema_unit_forward_and_moving_average() -> None:
    torch.manual_seed(9)
    c, h, w = 6, 3, 4
    unit = _randomise(EMAttention(c, num_bases=4, iterations=3, momentum=0.7))
    unit.mu.copy_(F.normalize(torch.randn_like(unit.mu), dim=1))
    x = torch.randn(2, c, h, w, dtype=D)
    feats = torch.einsum("oc,bchw->bohw", unit.conv_in.weight[:, :, 0, 0], x) + unit.conv_in.bias.view(1, c, 1, 1)
    feats = feats.reshape(2, c, h * w)
    mu = unit.mu.expand(2, -1, -1)
    for _ in range(3):
        z, mu = em_step(feats, mu)
    recon = torch.relu(torch.bmm(mu, z.transpose(1, 2))).view(2, c, h, w)
    conv = torch.einsum("oc,bchw->bohw", unit.conv_out[0].weight[:, :, 0, 0], recon)
    bn = unit.conv_out[1]
    conv = (conv - bn.running_mean.view(1, c, 1, 1)) / torch.sqrt(bn.running_var.view(1, c, 1, 1) + bn.eps)
    ref = torch.relu(x + conv * bn.weight.view(1, c, 1, 1) + bn.bias.view(1, c, 1, 1))
    mu0 = unit.mu.clone()
    torch.testing.assert_close(unit(x), ref, **TOL)
    torch.testing.assert_close(unit.mu, mu0, rtol=0, atol=0)  # eval: the bases stay
    unit.train()
    unit(x)
    torch.testing.assert_close(unit.mu, 0.7 * mu0 + 0.3 * mu.mean(0, keepdim=True), **TOL)


# ---------------------------------------------------------------------------------------------- relation


def test_relation_module_sums_g_over_all_ordered_pairs() -> None:
    torch.manual_seed(10)
    rn = _randomise(RelationModule(3, hidden=5, out_dim=2, question_dim=4, g_layers=2, f_layers=2))
    objects, question = torch.randn(2, 4, 3, dtype=D), torch.randn(2, 4, dtype=D)
    g = nn.Sequential(rn.g_first, nn.ReLU(), *rn.g_rest)
    for n in range(2):
        total = sum(
            g(torch.cat([objects[n, i], objects[n, j], question[n]])) for i, j in itertools.product(range(4), range(4))
        )
        torch.testing.assert_close(rn(objects, question)[n], rn.f(total), **TOL)


@pytest.mark.parametrize("grad_through_em", [False, True])
def test_ema_trains_with_and_without_gradients_through_em(grad_through_em: bool) -> None:
    unit = EMAttention(8, num_bases=4, grad_through_em=grad_through_em)
    x = torch.randn(2, 8, 5, 6, requires_grad=True)
    unit(x).sum().backward()  # the in-place moving average must not break backward
    assert unit.conv_in.weight.grad is not None and float(unit.conv_in.weight.grad.abs().sum()) > 0
