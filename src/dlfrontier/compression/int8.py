"""int8 post-training quantization and quantization-aware training with PyTorch's eager-mode tooling.

Jacob et al., "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only
Inference", CVPR 2018, https://arxiv.org/abs/1712.05877: weights int8 (per-channel symmetric here),
activations uint8 with a per-tensor scale and zero point observed on calibration data (post-training) or
learned through fake quantization during training (QAT); the matrix products run in integer arithmetic.

Uses ``torch.ao.quantization`` (checked to exist and work in torch 2.13 on the ``x86`` engine, although it
warns that it is deprecated in favour of torchao); its deprecation warnings are silenced here.
"""

from __future__ import annotations

import copy
import io
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from dlfrontier.errors import DLFrontierError


@contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        warnings.filterwarnings("ignore", message=".*quant_min and quant_max.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        yield


def _tq() -> Any:
    try:
        with _quiet():
            import torch.ao.quantization as tq
    except ImportError as e:  # removed in a future torch
        raise DLFrontierError(
            f"torch {torch.__version__} has no torch.ao.quantization; int8 needs a torch that still ships it"
        ) from e
    return tq


def engine() -> str:
    """The quantized engine used: ``x86`` (fbgemm + onednn) when available, else ``qnnpack``."""
    engines = torch.backends.quantized.supported_engines
    for e in ("x86", "fbgemm", "qnnpack"):
        if e in engines:
            return e
    raise DLFrontierError(f"no int8 engine in this torch build (engines: {engines})")


class QuantWrapper(nn.Module):
    """``quant -> model -> dequant``: float in, float out, int8 inside once converted."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        tq = _tq()
        self.quant = tq.QuantStub()
        self.model = model
        self.dequant = tq.DeQuantStub()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dequant(self.model(self.quant(x)))


def _qconfig(qat: bool) -> Any:
    tq = _tq()
    eng = engine()
    torch.backends.quantized.engine = eng
    with _quiet():
        return tq.get_default_qat_qconfig(eng) if qat else tq.get_default_qconfig(eng)


def quantize_ptq(model: nn.Module, calibration: torch.Tensor, *, batch_size: int = 256) -> nn.Module:
    """Post-training static quantization of a float model (left unchanged) on CPU.

    Args:
        model: float model (LeNet-style: Linear/Conv2d layers, functional ReLU/pooling).
        calibration: ``[N, ...]`` inputs whose activation ranges set the activation scales.

    Returns:
        the int8 model (``QuantWrapper``), in eval mode.
    """
    tq = _tq()
    q = QuantWrapper(copy.deepcopy(model).cpu()).eval()
    q.qconfig = _qconfig(qat=False)
    with _quiet(), torch.no_grad():
        tq.prepare(q, inplace=True)
        for i in range(0, len(calibration), batch_size):
            q(calibration[i : i + batch_size].cpu())
        tq.convert(q, inplace=True)
    return q


def prepare_qat(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with fake quantization inserted, ready for training (quantization-aware)."""
    tq = _tq()
    q = QuantWrapper(copy.deepcopy(model).cpu()).train()
    q.qconfig = _qconfig(qat=True)
    with _quiet():
        tq.prepare_qat(q, inplace=True)
    return q


def convert_qat(model: nn.Module) -> nn.Module:
    """The int8 model of a QAT-trained model (a converted copy, eval mode)."""
    tq = _tq()
    q = copy.deepcopy(model).cpu().eval()
    with _quiet():
        tq.convert(q, inplace=True)
    return q


def serialized_bytes(model: nn.Module) -> int:
    """Size of ``torch.save(model.state_dict())``: the real file an int8 model is shipped as."""
    buf = io.BytesIO()
    with _quiet():
        torch.save(model.state_dict(), buf)
    return buf.getbuffer().nbytes


def latency(model: nn.Module, x: torch.Tensor, *, repeats: int = 20, warmup: int = 3) -> float:
    """Median seconds of one forward pass on ``x`` (no grad, eval mode)."""
    model.eval()
    times = []
    with torch.no_grad(), _quiet():
        for _ in range(warmup):
            model(x)
        for _ in range(repeats):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]
