"""Multimodal models: visual question answering on Sort-of-CLEVR (CNN+MLP, Relation Network, UpDn, MCAN).

>>> from dlfrontier.data.sort_of_clevr import make_sort_of_clevr, to_float
>>> from dlfrontier.multimodal import build_vqa_model
>>> data = make_sort_of_clevr(4, seed=0)
>>> model = build_vqa_model("mcan")
>>> logits = model(to_float(data.images), data.tokens)  # [4, 20, 12]
"""

from dlfrontier.multimodal.cnn_mlp import CNNMLP
from dlfrontier.multimodal.mcan import MCAN
from dlfrontier.multimodal.relation_net import RelationNetwork
from dlfrontier.multimodal.updn import UpDn
from dlfrontier.multimodal.vqa_base import VQAModel, build_vqa_model, load_vqa_model

__all__ = ["CNNMLP", "MCAN", "RelationNetwork", "UpDn", "VQAModel", "build_vqa_model", "load_vqa_model"]
