"""Image captioning with attention: UpDn, Transformer and Attention-on-Attention captioners, SCST (issue 20).

>>> import torch
>>> from dlfrontier.multimodal.captioning import build_captioner, beam_search, greedy
>>> model = build_captioner("aoa", feat_dim=46, vocab_size=50).eval()
>>> feats = torch.randn(2, 4, 46)                       # 2 images x 4 regions
>>> out = greedy(model, feats, max_steps=17)            # tokens [2, T], score [2], attention [2, T, 4]
>>> out = beam_search(model, feats, beam=3, max_steps=17)

Modules: ``models`` (the captioners, one step interface), ``decoding`` (greedy, beam search, sampling),
``features`` (the bottom-up detector and region features of the generated images), ``training`` (cross-entropy,
SCST with the greedy or the new self-critical baseline; ``train_captioning``: the run behind every ``caption-*``
experiment), ``evaluation`` (``dlfrontier eval`` drawings), ``config`` and ``baselines`` (the nearest-neighbour
caption baseline).
"""

from dlfrontier.multimodal.captioning.decoding import Decoded, beam_search, greedy, sample
from dlfrontier.multimodal.captioning.features import RegionDetector, pretrain_detector, region_features
from dlfrontier.multimodal.captioning.models import (
    CAPTIONERS,
    AoACaptioner,
    Captioner,
    TransformerCaptioner,
    UpDnCaptioner,
    build_captioner,
)

__all__ = ["CAPTIONERS", "AoACaptioner", "Captioner", "Decoded", "RegionDetector", "TransformerCaptioner",
           "UpDnCaptioner", "beam_search", "build_captioner", "greedy", "pretrain_detector", "region_features",
           "sample"]
