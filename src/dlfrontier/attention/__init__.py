"""Attention modules of the lecture, one file each, all pure PyTorch (CPU and GPU), built by name.

Every module takes ``channels`` first and keyword-only options (timm's constructor shape) and maps
``[B, C, H, W] -> [B, C, H, W]`` unless its :class:`AttentionSpec` ``kind`` says otherwise:
``"upsample"`` (CARAFE: ``[B, C, sH, sW]``), ``"sequence"`` (multi-head attention: ``[B, L, C]``) or ``"set"``
(Relation Network: ``[B, N, C] -> [B, hidden]``). The registry drives the contract tests, so a newly
registered module is tested for forward, backward, shape, dtype and determinism automatically.

>>> from dlfrontier.attention import create_attention
>>> block = create_attention("cc", 64, recurrence=2)
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Literal

from torch import nn

from dlfrontier.attention.carafe import CARAFE
from dlfrontier.attention.cbam import CBAM
from dlfrontier.attention.ccnet import CrissCrossAttention, RecurrentCrissCross
from dlfrontier.attention.danet import ChannelAttention, DualAttention, PositionAttention
from dlfrontier.attention.ema import EMAttention
from dlfrontier.attention.gc import GlobalContext
from dlfrontier.attention.mha import MultiHeadAttention
from dlfrontier.attention.non_local import NonLocalBlock
from dlfrontier.attention.ocnet import ASPObjectContext, ObjectContext, ObjectContextAttention
from dlfrontier.attention.relation import RelationModule, feature_map_objects
from dlfrontier.attention.se import SqueezeExcite
from dlfrontier.errors import ConfigError
from dlfrontier.registry import Registry

Kind = Literal["image", "upsample", "sequence", "set"]


@dataclass(frozen=True)
class AttentionSpec:
    """A registered attention module.

    Attributes:
        name: registry name, e.g. ``"non-local"``.
        cls: the ``nn.Module`` class, constructed as ``cls(channels, **options)``.
        kind: its input/output contract (see the package docstring).
        paper: short citation (authors, venue, year).
    """

    name: str
    cls: type[nn.Module]
    kind: Kind
    paper: str

    def options(self) -> list[str]:
        """The keyword-only options of the constructor."""
        params = inspect.signature(self.cls.__init__).parameters.values()
        return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


ATTENTION: Registry[AttentionSpec] = Registry("attention module")


def _register(name: str, cls: type[nn.Module], kind: Kind, paper: str) -> None:
    ATTENTION.register(name, AttentionSpec(name, cls, kind, paper))


_register("se", SqueezeExcite, "image", "Hu et al., CVPR 2018")
_register("cbam", CBAM, "image", "Woo et al., ECCV 2018")
_register("gc", GlobalContext, "image", "Cao et al., ICCVW 2019")
_register("non-local", NonLocalBlock, "image", "Wang et al., CVPR 2018")
_register("pam", PositionAttention, "image", "Fu et al. (DANet), CVPR 2019")
_register("cam", ChannelAttention, "image", "Fu et al. (DANet), CVPR 2019")
_register("danet", DualAttention, "image", "Fu et al. (DANet), CVPR 2019")
_register("oc", ObjectContext, "image", "Yuan et al. (OCNet), 2018")
_register("asp-oc", ASPObjectContext, "image", "Yuan et al. (OCNet), 2018")
_register("cc", RecurrentCrissCross, "image", "Huang et al. (CCNet), ICCV 2019")
_register("ema", EMAttention, "image", "Li et al. (EMANet), ICCV 2019")
_register("carafe", CARAFE, "upsample", "Wang et al., ICCV 2019")
_register("mha", MultiHeadAttention, "sequence", "Vaswani et al., NeurIPS 2017")
_register("relation", RelationModule, "set", "Santoro et al., NeurIPS 2017")


def create_attention(name: str, channels: int, **kwargs: Any) -> nn.Module:
    """Build the attention module ``name`` for ``channels`` input channels.

    Args:
        name: a registered name (``attention_names()``).
        channels: input channels (sequence width for ``"mha"``, object width for ``"relation"``).
        **kwargs: the module's keyword-only options.

    Raises:
        UnknownNameError: ``name`` is not registered (the message suggests close names).
        ConfigError: an option the module does not have, or a value it rejects.
    """
    spec = ATTENTION.get(name)
    valid = spec.options()
    unknown = [k for k in kwargs if k not in valid]
    if unknown:
        raise ConfigError(
            f"attention module {name!r} has no option {', '.join(map(repr, unknown))}; "
            f"valid options: {', '.join(valid) or 'none'}"
        )
    try:
        return spec.cls(channels, **kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"attention module {name!r}: {e}") from e


def attention_names() -> list[str]:
    """All registered attention module names."""
    return ATTENTION.names()


__all__ = [
    "ATTENTION",
    "AttentionSpec",
    "ASPObjectContext",
    "CARAFE",
    "CBAM",
    "ChannelAttention",
    "CrissCrossAttention",
    "DualAttention",
    "EMAttention",
    "GlobalContext",
    "MultiHeadAttention",
    "NonLocalBlock",
    "ObjectContext",
    "ObjectContextAttention",
    "PositionAttention",
    "RecurrentCrissCross",
    "RelationModule",
    "SqueezeExcite",
    "attention_names",
    "create_attention",
    "feature_map_objects",
]
