"""Multimodal models: visual question answering on Sort-of-CLEVR (CNN+MLP, Relation Network, UpDn, MCAN).

>>> from dlfrontier.data.sort_of_clevr import make_sort_of_clevr, to_float
>>> from dlfrontier.multimodal import build_vqa_model
>>> data = make_sort_of_clevr(4, seed=0)
>>> model = build_vqa_model("mcan")
>>> logits = model(to_float(data.images), data.tokens)  # [4, 20, 12]

Modules: the models (``cnn_mlp``, ``relation_net``, ``updn``, ``mcan`` on ``vqa_base``; registered by name in
``vqa_base.VQA_MODELS``), ``bottom_up`` (the detector pretraining), ``batchnorm`` (precise BatchNorm statistics),
``config`` (the run configs), ``training`` (``train_vqa``: the run behind every ``vqa-<model>`` experiment),
``tables`` (the run's tables) and ``evaluation`` (``dlfrontier eval`` drawings and the no-learning baselines).
"""

from dlfrontier.multimodal.cnn_mlp import CNNMLP
from dlfrontier.multimodal.mcan import MCAN
from dlfrontier.multimodal.relation_net import RelationNetwork
from dlfrontier.multimodal.updn import UpDn
from dlfrontier.multimodal.vqa_base import VQAModel, build_vqa_model, load_vqa_model

__all__ = ["CNNMLP", "MCAN", "RelationNetwork", "UpDn", "VQAModel", "build_vqa_model", "load_vqa_model"]
