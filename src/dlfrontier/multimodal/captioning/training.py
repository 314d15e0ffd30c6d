"""Training a captioner: cross-entropy on all 5 references, then self-critical sequence training (SCST).

Papers: Rennie et al., "Self-critical Sequence Training for Image Captioning", CVPR 2017
(https://arxiv.org/abs/1612.00563); Luo, "A Better Variant of Self-Critical Sequence Training", 2020
(https://arxiv.org/abs/2003.09971).

:func:`train_captioning` is the run behind every ``caption-*`` experiment: it generates the captioning set
(:func:`dlfrontier.data.captions.caption_splits`), pretrains and freezes the bottom-up detector and computes every
image's regions once (:mod:`~dlfrontier.multimodal.captioning.features`), trains the captioner with cross-entropy
through :func:`dlfrontier.models.training.train_epochs` (each image with its 5 references, deterministic batches,
per-epoch checkpoints and validation), scores the test set, then optionally runs SCST (:func:`scst_loss`):
``scst_samples`` captions sampled per image, reward = CIDEr-D against the image's references with document
frequencies from the training references (:class:`dlfrontier.multimodal.metrics.CiderD`), baseline = the greedy
caption's reward (``greedy``) or the mean reward of the image's other samples (``nsc``, :func:`nsc_baseline`).
Every SCST step logs the mean sample reward, the greedy reward and their gap (``scst/sample_reward``,
``scst/greedy_reward``, ``scst/reward_gap``): when CIDEr-D drops after the switch, the gap shows whether the samples
or the greedy captions moved.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from dlfrontier.data import captions as cap
from dlfrontier.models.measure import count_params
from dlfrontier.models.training import clip_grad_hook, train_epochs
from dlfrontier.multimodal.captioning.coco import decode_with, load_coco, require_coco
from dlfrontier.multimodal.captioning.config import CaptionConfig
from dlfrontier.multimodal.captioning.decoding import beam_search, greedy, sample
from dlfrontier.multimodal.captioning.features import RegionDetector, freeze, pretrain_detector, region_features
from dlfrontier.multimodal.captioning.models import Captioner, build_captioner, expand_memory
from dlfrontier.multimodal.metrics import CiderD, bleu, cider_d
from dlfrontier.multimodal.training import warmup_cosine
from dlfrontier.runtime import RunContext, rng_state, set_rng_state, show_phase
from dlfrontier.tracking import atomic_write_json, read_metrics

MODEL_ZOO = {  # self-critical.pytorch MODEL_ZOO, COCO Karpathy test CIDEr-D: (cross-entropy, SCST)
    "updn": (1.099, 1.227), "transformer": (1.126, None), "aoa": (1.184, 1.289)}


def max_steps() -> int:
    """Decoding steps: the longest reference and its EOS."""
    return cap.MAX_LEN + 1


def build_detector(cfg: CaptionConfig) -> RegionDetector:
    return RegionDetector(colours=len(cap.COLOURS), shapes=len(cap.SHAPES), sizes=2, channels=cfg.channels)


class CaptionRun(nn.Module):
    """What a run trains and checkpoints: the frozen bottom-up ``detector`` and the ``captioner``."""

    def __init__(self, cfg: CaptionConfig, model_name: str, *, feat_dim: int | None = None,
                 vocab_size: int | None = None) -> None:
        super().__init__()
        self.detector = build_detector(cfg)  # unused with data=coco (precomputed features)
        kw: dict[str, Any] = {"feat_dim": feat_dim or self.detector.feature_dim,
                              "vocab_size": vocab_size or len(cap.VOCAB),
                              "hidden": cfg.hidden, "dropout": cfg.dropout}
        if model_name != "updn":
            kw.update(heads=cfg.heads, layers=cfg.layers)
        self.captioner: Captioner = build_captioner(model_name, **kw)

    def train(self, mode: bool = True) -> CaptionRun:
        super().train(mode)
        self.detector.eval()  # frozen once pretrained
        return self


def texts_of(tokens: torch.Tensor, vocab: Sequence[str] | None = None) -> list[str]:
    """Decoded captions (``[B, T]`` tokens -> the text the metrics score; ``vocab``: COCO's, else the generated)."""
    if vocab is None:
        return [cap.decode(row) for row in tokens.tolist()]
    return [decode_with(vocab, row) for row in tokens.tolist()]


def _rows(mask: torch.Tensor | None, idx: Any, device: Any) -> torch.Tensor | None:
    return None if mask is None else mask[idx].to(device)


def caption_scores(candidates: Sequence[str], references: Sequence[Sequence[str]], prefix: str = "eval/",
                   suffix: str = "") -> dict[str, float]:
    """CIDEr-D (document frequencies from ``references``, as pycocoevalcap) and BLEU-1..4."""
    out = {f"{prefix}cider_d{suffix}": float(cider_d(candidates, references))}
    for n, b in enumerate(bleu(candidates, references, 4), start=1):
        out[f"{prefix}bleu{n}{suffix}"] = float(b)
    return out


@torch.no_grad()
def decode_all(model: Captioner, feats: torch.Tensor, mask: torch.Tensor | None = None, *, beam: int = 1,
               batch: int = 250, vocab: Sequence[str] | None = None) -> list[str]:
    """Greedy (``beam=1``) or beam-search captions of every image (``mask [N, K]``: True at padded regions)."""
    was = model.training
    model.eval()
    out: list[str] = []
    for i in range(0, len(feats), batch):
        f = feats[i : i + batch]
        m = _rows(mask, slice(i, i + batch), f.device)
        d = greedy(model, f, m, max_steps=max_steps()) if beam == 1 else beam_search(model, f, m, beam=beam,
                                                                                    max_steps=max_steps())
        out += texts_of(d.tokens.cpu(), vocab)
    model.train(was)
    return out


def test_scores(model: Captioner, feats: torch.Tensor, refs: Sequence[Sequence[str]], beam: int,
                mask: torch.Tensor | None = None, vocab: Sequence[str] | None = None) -> dict[str, float]:
    """Test CIDEr-D and BLEU of greedy decoding (``eval/cider_d``, ...) and of beam search (``..._beam``)."""
    scores = caption_scores(decode_all(model, feats, mask, beam=1, vocab=vocab), refs)
    if beam > 1:
        scores.update(caption_scores(decode_all(model, feats, mask, beam=beam, vocab=vocab), refs, suffix="_beam"))
    return scores


def xe_loss(model: Captioner, feats: torch.Tensor, tokens: torch.Tensor,
            mask: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of every reference: ``feats [B, K, D]``, ``tokens [B, R, L]`` (BOS .. EOS PAD ..); the image
    is encoded once and its memory repeated for its R references; PAD targets are ignored."""
    b, r, _ = tokens.shape
    memory = expand_memory(model.encode(feats, mask), r)
    words = tokens.flatten(0, 1)
    logp, _ = model.decode_teacher(memory, words[:, :-1])
    return nn.functional.nll_loss(logp.flatten(0, 1), words[:, 1:].flatten(), ignore_index=cap.PAD)


def scst_loss(token_logp: torch.Tensor, rewards: torch.Tensor, baseline: torch.Tensor) -> torch.Tensor:
    """The self-critical policy-gradient loss ``-(r - b) * log p(w)``, averaged over the sampled tokens.

    Args:
        token_logp: ``[N, T]`` log-probabilities of the sampled tokens (0 after EOS, see
            :func:`~dlfrontier.multimodal.captioning.decoding.sample`).
        rewards, baseline: ``[N]``; the advantage carries no gradient.

    A sample better than its baseline has its log-probability raised by a gradient step, a worse one lowered.
    """
    advantage = (rewards - baseline).detach().to(token_logp.dtype)
    sampled = (token_logp.detach() != 0).to(token_logp.dtype)  # padding after EOS is no action
    return -(advantage.unsqueeze(1) * token_logp * sampled).sum() / sampled.sum().clamp_min(1)


def nsc_baseline(rewards: torch.Tensor, samples: int) -> torch.Tensor:
    """Luo 2020: each sample's baseline is the mean reward of the other ``samples - 1`` samples of its image
    (``rewards [B * samples]``, image-major)."""
    if samples < 2:
        raise ValueError("the new self-critical baseline needs at least 2 samples per image")
    r = rewards.view(-1, samples)
    return ((r.sum(1, keepdim=True) - r) / (samples - 1)).flatten()


def scst_step(model: Captioner, opt: torch.optim.Optimizer, feats: torch.Tensor, refs: Sequence[Sequence[str]],
              cider: CiderD, cfg: CaptionConfig, mask: torch.Tensor | None = None,
              vocab: Sequence[str] | None = None) -> dict[str, float]:
    """One SCST update on the images ``feats`` with references ``refs``; returns the logged rewards."""
    n = cfg.scst_samples
    model.eval()
    greedy_texts = texts_of(greedy(model, feats, mask, max_steps=max_steps()).tokens.cpu(), vocab)
    greedy_r = torch.as_tensor(cider.scores(greedy_texts, refs), dtype=torch.float32)
    model.train()
    tokens, logp = sample(model, feats, mask, n=n, temperature=cfg.temperature, max_steps=max_steps())
    sample_refs = [r for r in refs for _ in range(n)]
    rewards = torch.as_tensor(cider.scores(texts_of(tokens.cpu(), vocab), sample_refs), dtype=torch.float32)
    base = nsc_baseline(rewards, n) if cfg.scst_baseline == "nsc" else greedy_r.repeat_interleave(n)
    loss = scst_loss(logp, rewards.to(logp.device), base.to(logp.device))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()
    s, g = float(rewards.mean()), float(greedy_r.mean())
    return {"scst/sample_reward": s, "scst/greedy_reward": g, "scst/reward_gap": s - g,
            "scst/loss": float(loss.detach())}


def run_scst(ctx: RunContext, cfg: CaptionConfig, model: Captioner, train_feats: torch.Tensor,
             train_refs: Sequence[Sequence[str]], val: tuple[torch.Tensor, Sequence[Sequence[str]]],
             save: Any, start_it: int, resume: dict[str, Any] | None, *, train_mask: torch.Tensor | None = None,
             val_mask: torch.Tensor | None = None, vocab: Sequence[str] | None = None) -> None:
    """``cfg.scst_steps`` SCST steps (logged at ``start_it + step``), validation and a checkpoint (``save``) every
    ``scst_eval_every`` steps; continues from ``resume`` (an SCST checkpoint)."""
    cider = CiderD(train_refs)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.scst_lr)
    step = 0
    if resume is not None:
        opt.load_state_dict(resume["optimizer"])
        step = int(resume["step"])
        set_rng_state(resume["rng"])
    ctx.progress.start(cfg.scst_steps, unit="scst steps")
    while step < cfg.scst_steps:
        gen = torch.Generator().manual_seed(ctx.seed * 1_000_033 + step)
        idx = torch.randperm(len(train_feats), generator=gen)[: cfg.scst_batch_images]
        logged = scst_step(model, opt, train_feats[idx].to(ctx.device), [train_refs[i] for i in idx.tolist()],
                           cider, cfg, _rows(train_mask, idx, ctx.device), vocab)
        step += 1
        ctx.logger.log(logged, start_it + step)
        ctx.progress.update(step, gap=logged["scst/reward_gap"])
        if step % cfg.scst_eval_every == 0 or step == cfg.scst_steps:
            val_mask_now = _rows(val_mask, slice(None), ctx.device)
            val_scores = caption_scores(decode_all(model, val[0].to(ctx.device), val_mask_now, vocab=vocab), val[1],
                                        prefix="val/")
            ctx.logger.log({"val/cider_d": val_scores["val/cider_d"]}, start_it + step)
            save(opt, step)


def train_captioning(ctx: RunContext, cfg: CaptionConfig, model_name: str) -> dict[str, float]:
    """Train ``model_name`` (``updn``, ``transformer``, ``aoa``) and score the fixed test set; see the module doc.

    Returns the test scores of the final model (``eval/cider_d``, ``eval/bleu4``, ... of greedy decoding, and
    ``..._beam``), the cross-entropy phase's test scores (``xe/...``) and, after SCST, ``eval/scst_gain`` (the
    relative CIDEr-D gain over the run's own cross-entropy phase), the detector's metrics, timings and sizes.
    """
    start = time.perf_counter()
    masks: dict[str, torch.Tensor | None] = {"train": None, "val": None, "test": None}
    vocab: tuple[str, ...] | None = None
    state = ctx.resume_state
    det_metrics: dict[str, float] = {}
    if cfg.data == "coco":
        require_coco()  # one line before any work when the files are missing
        show_phase(ctx.progress, "loading Karpathy-split COCO captions and region features")
        coco = load_coco(cfg.train_images, cfg.val_images, cfg.test_images, max_regions=cfg.max_regions)
        vocab = coco.vocab
        train, val, test = coco.train, coco.val, coco.test
        feats = {"train": train.feats, "val": val.feats, "test": test.feats}
        masks = {"train": train.mask, "val": val.mask, "test": test.mask}
        run = CaptionRun(cfg, model_name, feat_dim=int(train.feats.shape[-1]), vocab_size=len(vocab)).to(ctx.device)
        if state is not None:
            run.load_state_dict(state["model"])
        freeze(run.detector)
    else:
        show_phase(ctx.progress, f"generating {cfg.train_images:,} + {cfg.val_images:,} + {cfg.test_images:,} "
                                 "captioned images")
        gtrain, gval, gtest = cap.caption_splits(cfg.train_images, cfg.val_images, cfg.test_images, seed=ctx.seed)
        run = CaptionRun(cfg, model_name).to(ctx.device)
        if state is None:
            show_phase(ctx.progress, f"pretraining the bottom-up detector ({cfg.detector_steps:,} steps)")
            det_metrics = pretrain_detector(run.detector, gtrain, steps=cfg.detector_steps, lr=cfg.detector_lr,
                                            seed=ctx.seed, device=ctx.device)
            ctx.logger.log(det_metrics, 0)
        else:
            run.load_state_dict(state["model"])
            freeze(run.detector)
            det_metrics = {k: v[-1][1] for k, v in read_metrics(ctx.run_dir).items() if k.startswith("detector/")}
        show_phase(ctx.progress, "computing region features")
        feats = {name: region_features(run.detector, s.images, k=cfg.regions, device=ctx.device)
                 for name, s in (("train", gtrain), ("val", gval), ("test", gtest))}
        train, val, test = gtrain, gval, gtest  # type: ignore[assignment]
    model = run.captioner
    val_set = (feats["val"], val.texts)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.grad_clip is not None:
        opt.register_step_pre_hook(clip_grad_hook(model, cfg.grad_clip))
    batches = math.ceil(len(train) / cfg.batch_images)
    sched = warmup_cosine(opt, cfg.warmup, cfg.epochs * batches)
    in_scst = state is not None and state.get("phase") == "scst"
    xe_it = cfg.epochs * batches

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        idx = idx.cpu()
        return xe_loss(model, feats["train"][idx].to(ctx.device), train.tokens[idx].to(ctx.device),
                       _rows(masks["train"], idx, ctx.device))

    def per_epoch() -> dict[str, float]:
        return {"val/cider_d": caption_scores(decode_all(model, feats["val"].to(ctx.device),
                                                         _rows(masks["val"], slice(None), ctx.device), vocab=vocab),
                                              val.texts, prefix="val/")["val/cider_d"]}

    def scores_now() -> dict[str, float]:
        return test_scores(model, feats["test"].to(ctx.device), test.texts, cfg.beam,
                           _rows(masks["test"], slice(None), ctx.device), vocab)

    if in_scst:
        assert state is not None
        xe = dict(state["xe"])
    else:
        show_phase(ctx.progress, f"cross-entropy training of {model_name}")
        train_epochs(ctx, run, opt, sched, n=len(train), batch_size=cfg.batch_images, epochs=cfg.epochs,
                     batch_loss=batch_loss, evaluate=per_epoch, log_every=cfg.log_every)
        xe = {f"xe/{k.removeprefix('eval/')}": v for k, v in scores_now().items()}
        ctx.logger.log(xe, xe_it)
    xe_seconds = time.perf_counter() - start
    if cfg.scst_steps > 0:
        def save(scst_opt: torch.optim.Optimizer, step: int) -> None:
            ctx.save_checkpoint({"phase": "scst", "model": run.state_dict(), "optimizer": scst_opt.state_dict(),
                                 "step": step, "xe": xe, "rng": rng_state()}, step=xe_it + step)

        show_phase(ctx.progress, f"self-critical training ({cfg.scst_baseline} baseline)")
        run_scst(ctx, cfg, model, feats["train"], train.texts, val_set, save, xe_it,
                 state if in_scst else None, train_mask=masks["train"], val_mask=masks["val"], vocab=vocab)
    scores = scores_now()
    if cfg.scst_steps > 0:
        scores["eval/scst_gain"] = scores["eval/cider_d"] / max(xe["xe/cider_d"], 1e-9) - 1.0
    seconds = time.perf_counter() - start
    write_tables(ctx, model, model_name, cfg, xe, scores, feats["test"], test, mask=masks["test"], vocab=vocab)
    return {**scores, **xe, **det_metrics, "model/params": float(count_params(model)),
            "time/xe_seconds": xe_seconds, "time/train_seconds": seconds}


def write_tables(ctx: RunContext, model: Captioner, model_name: str, cfg: CaptionConfig, xe: dict[str, float],
                 scores: dict[str, float], test_feats: torch.Tensor, test: Any, examples: int = 8, *,
                 mask: torch.Tensor | None = None, vocab: Sequence[str] | None = None) -> None:
    """``tables/cider.json`` (cross-entropy -> SCST test CIDEr-D / BLEU-4 beside MODEL_ZOO) and
    ``tables/examples.json`` (the first test images' greedy and beam captions and a reference)."""
    zoo_xe, zoo_scst = MODEL_ZOO[model_name]
    rows = [[model_name, "cross-entropy", round(xe["xe/cider_d"], 3), round(xe["xe/bleu4"], 3), zoo_xe]]
    if cfg.scst_steps > 0:
        rows.append([model_name, f"SCST ({cfg.scst_baseline} baseline)", round(scores["eval/cider_d"], 3),
                     round(scores["eval/bleu4"], 3), zoo_scst if cfg.scst_baseline == "greedy" else
                     (1.239 if model_name == "updn" else None)])
    atomic_write_json(ctx.run_dir / "tables" / "cider.json", {
        "title": "Test CIDEr-D / BLEU-4 (greedy decoding) beside self-critical.pytorch MODEL_ZOO (COCO)",
        "columns": ["model", "training", "CIDEr-D", "BLEU-4", "MODEL_ZOO CIDEr-D (COCO)"], "rows": rows})
    f = test_feats[:examples].to(ctx.device)
    m = _rows(mask, slice(0, examples), ctx.device)
    greedy_txt, beam_txt = decode_all(model, f, m, vocab=vocab), decode_all(model, f, m, beam=cfg.beam, vocab=vocab)
    atomic_write_json(ctx.run_dir / "tables" / "examples.json", {
        "title": f"Test captions of {model_name} (greedy, beam {cfg.beam}) and the first reference",
        "columns": ["image", "greedy", "beam", "reference"],
        "rows": [[i, greedy_txt[i], beam_txt[i], test.texts[i][0]] for i in range(len(greedy_txt))]})


__all__ = ["MODEL_ZOO", "CaptionRun", "caption_scores", "decode_all", "nsc_baseline", "scst_loss", "scst_step",
           "test_scores", "train_captioning", "xe_loss"]
