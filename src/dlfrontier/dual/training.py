"""Training English<->Spanish translators: supervised warm start, back-translation and dual learning.

:func:`train_translation` is the run behind every experiment of :mod:`dlfrontier.experiments.dual`:

1. **Data.** The verse-aligned corpus split by book (:mod:`dlfrontier.data.parallel`); the run's seed draws the
   bilingual share (``fraction``) and two disjoint monolingual halves (English of one, Spanish of the other, so no
   pair survives). One joint sentencepiece vocabulary is trained on the training books' text (both languages).
2. **Warm start.** Both translators (en->es and es->en) trained on the bilingual pairs with label-smoothed
   cross-entropy, every batch training both directions (:func:`~dlfrontier.models.training.train_epochs`:
   deterministic batches, a checkpoint per epoch). ``method="supervised"`` stops here (``nmt-en-es-10pct`` and,
   with ``fraction=1``, ``nmt-en-es-full``). The warm models' test BLEU is kept, so every later method reports its
   gain over its own warm start (the 10% baseline of the same seed).
3. **Back-translation** (Sennrich et al., ACL 2016, https://aclanthology.org/P16-1009): each warm model translates
   the other language's monolingual sentences (greedy); the synthetic pairs (machine source, human target) join
   the real ones for ``bt_epochs`` more epochs.
4. **Dual learning** (He et al., NIPS 2016, https://arxiv.org/abs/1611.00179): one language model per language is
   trained on its monolingual sentences; then each round plays a game from an English batch and one from a
   Spanish batch (:mod:`dlfrontier.dual.objectives`: K sampled middle translations, LM + reconstruction reward,
   policy gradient for the primal model, likelihood for the dual one) and one supervised step on the bilingual
   pairs, as the paper mixes them.

Test BLEU: beam search on every verse of the test books, detokenized, sacreBLEU (:mod:`dlfrontier.dual.bleu`).
Resume: every phase checkpoints (``phase`` in the state says which); a resumed run skips the finished phases.
``warm_start``: a back-translation or dual-learning run can read its warm start from a finished supervised run of
the same seed and settings (``nmt-en-es-10pct``) instead of training it; the later phases draw from their own random
stream, so such a run ends exactly where one that trained its own warm start ends (tested).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from dlfrontier.dual.bleu import corpus_bleu
from dlfrontier.dual.config import DualConfig
from dlfrontier.dual.objectives import dual_reward, reconstruction_loss
from dlfrontier.runtime import RunContext, rng_state, seed_everything, set_rng_state, show_phase
from dlfrontier.tracking import atomic_write_json

if TYPE_CHECKING:
    from dlfrontier.dual.models import LanguageModel, Translator

EN_ES, ES_EN = 0, 1
DIRECTIONS = ("en_es", "es_en")
EXAMPLES = 8  # test sentences kept with their warm-start and final translations (tables/examples.json)


@dataclass
class Corpus:
    """The run's data: the tokenizer, bilingual pairs (ids, filtered to ``max_tokens``), monolingual sentences
    (ids), validation and test pairs (text)."""

    tokenizer: Any
    pairs: list[tuple[list[int], list[int]]]
    mono_en: list[list[int]]
    mono_es: list[list[int]]
    valid: list[tuple[str, str]]
    test: list[tuple[str, str]]


# A corpus folder's tokenizer reads at most this many training pairs (its first ones): sentencepiece's training
# holds its input in memory, and a few hundred thousand sentences already give a stable subword vocabulary.
TOKENIZER_PAIRS = 1_000_000


@functools.lru_cache(maxsize=2)
def _tokenizer(vocab_size: int, corpus: str = "") -> Any:
    """The joint vocabulary of the training split's text (both languages; a corpus folder's first
    :data:`TOKENIZER_PAIRS` pairs): the same for every seed, so trained once per process (sentencepiece's training
    is deterministic: tested)."""
    from dlfrontier.data.parallel import splits
    from dlfrontier.dual.tokenizer import SubwordTokenizer

    train = splits(corpus=corpus).train
    return SubwordTokenizer.train([t for pair in train[:TOKENIZER_PAIRS] for t in pair], vocab_size)


def prepare_corpus(cfg: DualConfig, seed: int) -> Corpus:
    """Split, subset, train the tokenizer and encode, as described in the module docstring."""
    from dlfrontier.data.parallel import semi_supervised, splits

    sp = splits(corpus=cfg.corpus)
    tok = _tokenizer(cfg.vocab_size, cfg.corpus)
    if cfg.fraction >= 1.0:
        bilingual, mono_en, mono_es = list(sp.train), [], []
    else:
        semi = semi_supervised(sp.train, fraction=cfg.fraction, seed=seed)
        bilingual = list(semi.pairs)
        mono_en, mono_es = semi.mono_en[: cfg.mono_sentences], semi.mono_es[: cfg.mono_sentences]
    en = tok.encode([p[0] for p in bilingual])
    es = tok.encode([p[1] for p in bilingual])
    keep = cfg.max_tokens - 1  # room for EOS
    pairs = [(a, b) for a, b in zip(en, es, strict=True) if 0 < len(a) <= keep and 0 < len(b) <= keep]
    mono_en_ids = [s for s in tok.encode(mono_en) if 0 < len(s) <= keep]
    mono_es_ids = [s for s in tok.encode(mono_es) if 0 < len(s) <= keep]
    test = list(sp.test) if cfg.test_sentences == 0 else list(sp.test)[: cfg.test_sentences]
    return Corpus(tok, pairs, mono_en_ids, mono_es_ids, list(sp.valid)[: cfg.val_sentences], test)


class TranslatorPair(nn.Module):
    """The two translators, ``en_es`` and ``es_en`` (one module, so one optimizer and one state dict)."""

    def __init__(self, cfg: DualConfig, vocab_size: int) -> None:
        super().__init__()
        from dlfrontier.dual.models import Translator

        kw: dict[str, Any] = {"vocab_size": vocab_size, "hidden": cfg.hidden, "heads": cfg.heads,
                              "layers": cfg.layers, "dropout": cfg.dropout}
        self.en_es = Translator(**kw)
        self.es_en = Translator(**kw)

    def direction(self, d: int) -> Translator:
        return self.en_es if d == EN_ES else self.es_en


class LanguageModels(nn.Module):
    """One language model per language (``en``, ``es``): the dual game's fluency reward."""

    def __init__(self, cfg: DualConfig, vocab_size: int) -> None:
        super().__init__()
        from dlfrontier.dual.models import LanguageModel

        kw: dict[str, Any] = {"vocab_size": vocab_size, "hidden": cfg.hidden, "heads": cfg.heads,
                              "layers": cfg.lm_layers, "dropout": cfg.dropout}
        self.en = LanguageModel(**kw)
        self.es = LanguageModel(**kw)


def smoothed_token_loss(model: Translator, src: torch.Tensor, tgt: torch.Tensor,
                        smoothing: float) -> tuple[torch.Tensor, int]:
    """Label-smoothed cross-entropy summed over the target tokens (``tgt [B, T]``: ``w .. EOS PAD ..``) and their
    count. The smoothing mass is spread over the tokens the model can emit (PAD and BOS excluded)."""
    from dlfrontier.dual.models import teacher_inputs
    from dlfrontier.multimodal.captioning.models import PAD

    logp, _ = model.decode_teacher(model.encode(src, cache=False), teacher_inputs(tgt))  # [B, T, V]
    keep = tgt != PAD
    nll = -logp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
    if smoothing > 0:
        allowed = ~model.banned
        uniform = -logp.masked_fill(~allowed, 0.0).sum(-1) / allowed.sum()
        nll = (1.0 - smoothing) * nll + smoothing * uniform
    return nll[keep].sum(), int(keep.sum())


def batch_of(tok: Any, seqs: Sequence[Sequence[int]], device: Any, max_len: int | None = None) -> torch.Tensor:
    """Token lists -> ``[B, T]`` (EOS appended, PAD-padded, rows cut to ``max_len`` tokens with EOS) on ``device``."""
    return tok.batch([list(s) for s in seqs], max_len=max_len).to(device)


def mean_pairs_loss(pair: TranslatorPair, tok: Any, examples: Sequence[tuple[int, Sequence[int], Sequence[int]]],
                    smoothing: float, device: Any) -> torch.Tensor:
    """Per-token loss of a batch of ``(direction, source ids, target ids)`` examples, each model on its own."""
    total, count = torch.zeros((), device=device), 0
    for d in (EN_ES, ES_EN):
        rows = [e for e in examples if e[0] == d]
        if rows:
            s, n = smoothed_token_loss(pair.direction(d), batch_of(tok, [r[1] for r in rows], device),
                                       batch_of(tok, [r[2] for r in rows], device), smoothing)
            total, count = total + s, count + n
    return total / max(count, 1)


@torch.no_grad()
def translate(model: Translator, tok: Any, texts: Sequence[str], *, beam: int, device: Any,
              batch: int = 64) -> list[str]:
    """Detokenized translations of ``texts`` (beam search, or greedy when ``beam == 1``), in order."""
    from dlfrontier.multimodal.captioning.decoding import beam_search, greedy

    was = model.training
    model.eval()
    ids = tok.encode(list(texts))
    limit = int(model.pe.shape[0])
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = [""] * len(ids)
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch]
        src = tok.batch([ids[i][: limit - 1] for i in chunk]).to(device)
        steps = min(limit, int(1.5 * src.shape[1]) + 10)
        dec = beam_search(model, src, beam=beam, max_steps=steps) if beam > 1 else greedy(model, src, max_steps=steps)
        for i, text in zip(chunk, tok.decode(dec.tokens.tolist()), strict=True):
            out[i] = text
    model.train(was)
    return out


def bleu_both(pair: TranslatorPair, tok: Any, data: Sequence[tuple[str, str]], *, beam: int, device: Any,
              prefix: str) -> tuple[dict[str, float], dict[str, list[str]], str]:
    """BLEU of both directions on ``data`` (``prefix/bleu_en_es``, ``prefix/bleu_es_en``, ``prefix/bleu_mean``), the
    translations, and sacreBLEU's signature."""
    en, es = [p[0] for p in data], [p[1] for p in data]
    hyp = {"en_es": translate(pair.en_es, tok, en, beam=beam, device=device),
           "es_en": translate(pair.es_en, tok, es, beam=beam, device=device)}
    b1, sig = corpus_bleu(hyp["en_es"], es)
    b2, _ = corpus_bleu(hyp["es_en"], en)
    return {f"{prefix}/bleu_en_es": b1, f"{prefix}/bleu_es_en": b2, f"{prefix}/bleu_mean": (b1 + b2) / 2}, hyp, sig


@torch.no_grad()
def valid_nll(pair: TranslatorPair, tok: Any, data: Sequence[tuple[str, str]], device: Any) -> dict[str, float]:
    """Teacher-forced per-token negative log-likelihood of the validation pairs, both directions."""
    was = pair.training
    pair.eval()
    en, es = tok.encode([p[0] for p in data]), tok.encode([p[1] for p in data])
    out = {}
    limit = int(pair.en_es.pe.shape[0])
    for d, (src, tgt) in enumerate(((en, es), (es, en))):
        total, count = 0.0, 0
        for i in range(0, len(src), 64):
            s, n = smoothed_token_loss(pair.direction(d), batch_of(tok, src[i : i + 64], device, limit),
                                       batch_of(tok, tgt[i : i + 64], device, limit), 0.0)
            total, count = total + float(s), count + n
        out[f"val/nll_{DIRECTIONS[d]}"] = total / max(count, 1)
    pair.train(was)
    return out


class _PhaseContext:
    """What :func:`train_epochs` sees of the run during one phase: the run's resume state only if it was saved in
    this phase, checkpoints tagged with the phase (plus ``extra``), logged steps shifted by ``offset``."""

    def __init__(self, ctx: RunContext, phase: str, offset: int, extra: Mapping[str, Any]) -> None:
        self.ctx, self.phase, self.offset, self.extra = ctx, phase, offset, dict(extra)
        self.device, self.seed, self.progress = ctx.device, ctx.seed, ctx.progress
        state = ctx.resume_state
        self.resume_state = state if state is not None and state.get("phase") == phase else None
        self.logger = self

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self.ctx.logger.log(metrics, step + self.offset)

    def save_checkpoint(self, state: Mapping[str, Any], step: int) -> None:
        self.ctx.save_checkpoint({**state, **self.extra, "phase": self.phase}, step + self.offset)


def fit_pairs(ctx: RunContext, cfg: DualConfig, pair: TranslatorPair, corpus: Corpus,
              examples: list[tuple[int, list[int], list[int]]], *, phase: str, epochs: int, lr: float,
              offset: int, extra: Mapping[str, Any], prefix: str) -> int:
    """Supervised epochs over ``examples`` (``(direction, source, target)``); returns the iterations done."""
    from dlfrontier.models.training import clip_grad_hook, train_epochs
    from dlfrontier.multimodal.training import warmup_cosine

    opt = torch.optim.AdamW(pair.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    opt.register_step_pre_hook(clip_grad_hook(pair, cfg.grad_clip))
    batches = math.ceil(len(examples) / cfg.batch_size)
    sched = warmup_cosine(opt, min(cfg.warmup, batches * epochs // 10), epochs * batches)
    tok, device = corpus.tokenizer, ctx.device

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        return mean_pairs_loss(pair, tok, [examples[i] for i in idx.tolist()], cfg.label_smoothing, device)

    train_epochs(_PhaseContext(ctx, phase, offset, extra), pair, opt, sched, n=len(examples),
                 batch_size=cfg.batch_size, epochs=epochs, batch_loss=batch_loss,
                 evaluate=lambda: valid_nll(pair, tok, corpus.valid, device), log_every=cfg.log_every,
                 prefix=prefix)
    return epochs * batches


def both_ways(pairs: Sequence[tuple[list[int], list[int]]]) -> list[tuple[int, list[int], list[int]]]:
    """Each bilingual pair as an en->es and an es->en example."""
    return [(EN_ES, a, b) for a, b in pairs] + [(ES_EN, b, a) for a, b in pairs]


def back_translations(pair: TranslatorPair, corpus: Corpus, device: Any) -> list[tuple[int, list[int], list[int]]]:
    """Synthetic examples: Spanish monolingual sentences translated to English by es->en (greedy) give en->es
    examples (machine English source, human Spanish target); English ones give es->en examples."""
    tok = corpus.tokenizer
    out: list[tuple[int, list[int], list[int]]] = []
    for d, mono, model in ((EN_ES, corpus.mono_es, pair.es_en), (ES_EN, corpus.mono_en, pair.en_es)):
        synthetic = tok.encode(translate(model, tok, tok.decode(mono), beam=1, device=device))
        keep = int(model.pe.shape[0]) - 1  # room for EOS
        out += [(d, src[:keep], tgt) for src, tgt in zip(synthetic, mono, strict=True) if src]
    return out


def lm_sentences(corpus: Corpus) -> list[tuple[int, list[int]]]:
    """The language models' training sentences ``(language, ids)``, 0 English and 1 Spanish: each language's
    monolingual sentences and its side of the bilingual pairs."""
    return ([(0, s) for s in corpus.mono_en] + [(0, p[0]) for p in corpus.pairs]
            + [(1, s) for s in corpus.mono_es] + [(1, p[1]) for p in corpus.pairs])


def fit_language_models(ctx: RunContext, cfg: DualConfig, lms: LanguageModels, corpus: Corpus, *, offset: int,
                        extra: Mapping[str, Any]) -> int:
    """Each language model trained on its monolingual sentences and the bilingual pairs' side of its language."""
    from dlfrontier.models.training import clip_grad_hook, train_epochs
    from dlfrontier.multimodal.training import warmup_cosine

    tok, device = corpus.tokenizer, ctx.device
    sents = lm_sentences(corpus)
    opt = torch.optim.AdamW(lms.parameters(), lr=cfg.lr)
    opt.register_step_pre_hook(clip_grad_hook(lms, cfg.grad_clip))
    batches = math.ceil(len(sents) / cfg.batch_size)
    sched = warmup_cosine(opt, min(cfg.warmup, batches * cfg.lm_epochs // 10), cfg.lm_epochs * batches)
    val = {"en": tok.encode([p[0] for p in corpus.valid]), "es": tok.encode([p[1] for p in corpus.valid])}

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        rows = [sents[i] for i in idx.tolist()]
        total, count = torch.zeros((), device=device), 0
        for lang, lm in ((0, lms.en), (1, lms.es)):
            mine = [s for g, s in rows if g == lang]
            if mine:
                logp, n = lm.sequence_logprob(batch_of(tok, mine, device))
                total, count = total - logp.sum(), count + int(n.sum())
        return total / max(count, 1)

    @torch.no_grad()
    def evaluate() -> dict[str, float]:
        lms.eval()
        out = {}
        for lang, lm in (("en", lms.en), ("es", lms.es)):
            logp, n = lm.sequence_logprob(batch_of(tok, val[lang], device, int(lm.pe.shape[0])))
            out[f"val/lm_nll_{lang}"] = float(-logp.sum() / n.sum())
        return out

    train_epochs(_PhaseContext(ctx, "lm", offset, extra), lms, opt, sched, n=len(sents), batch_size=cfg.batch_size,
                 epochs=cfg.lm_epochs, batch_loss=batch_loss, evaluate=evaluate, log_every=cfg.log_every,
                 prefix="lm/")
    return cfg.lm_epochs * batches


def token_logprobs(model: Translator, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """Teacher-forced log-probability of each token of ``tgt [B, T]`` given ``src``, 0 at PAD (``[B, T]``, the
    layout :func:`~dlfrontier.multimodal.captioning.decoding.sample` returns), differentiable."""
    from dlfrontier.dual.models import teacher_inputs
    from dlfrontier.multimodal.captioning.models import PAD

    logp, _ = model.decode_teacher(model.encode(src, cache=False), teacher_inputs(tgt))
    picked = logp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
    return picked.masked_fill(tgt == PAD, 0.0)


def dual_game(primal: Translator, dual: Translator, lm: LanguageModel, src: torch.Tensor, cfg: DualConfig,
              ) -> tuple[torch.Tensor, dict[str, float]]:
    """One game from the sentences ``src [B, S]``: the dual's reconstruction loss plus ``pg_weight`` times the
    primal's policy-gradient loss (not computed at 0 with beam middles), and the logged rewards."""
    from dlfrontier.dual.models import sequence_logprob
    from dlfrontier.multimodal.captioning.decoding import beam_search, sample
    from dlfrontier.multimodal.captioning.training import nsc_baseline, scst_loss

    k = cfg.samples
    steps = min(int(primal.pe.shape[0]), int(1.5 * src.shape[1]) + 10)
    original = src.repeat_interleave(k, 0)
    token_logp: torch.Tensor | None
    if cfg.middle == "sample":
        mid, token_logp = sample(primal, src, n=k, max_steps=steps)  # [B*K, T] each
    else:  # the K best of a beam (He et al.): their log-likelihood under the primal, teacher-forced
        was = primal.training
        primal.eval()
        mid = beam_search(primal, src, beam=2 * k, max_steps=steps, n_best=k).tokens
        primal.train(was)
        token_logp = token_logprobs(primal, original, mid) if cfg.pg_weight > 0 else None
    with torch.no_grad():
        lm_logp, lm_n = lm.sequence_logprob(mid)
    recon_logp, recon_n = sequence_logprob(dual, mid, original)
    reward = dual_reward(lm_logp, lm_n, recon_logp, recon_n, cfg.alpha)
    loss = reconstruction_loss(recon_logp, recon_n, cfg.alpha)
    if token_logp is not None:
        loss = loss + cfg.pg_weight * scst_loss(token_logp, reward, nsc_baseline(reward, k))
    info = {"reward": float(reward.mean()), "lm": float((lm_logp / lm_n.clamp_min(1)).mean()),
            "recon": float((recon_logp.detach() / recon_n.clamp_min(1)).mean())}
    return loss, info


def dual_lr_at(cfg: DualConfig, r: int) -> float:
    """The learning rate of dual round ``r`` (0-based): ``dual_lr``, or with ``dual_schedule="cosine"`` a linear
    warm-up over ``min(warmup, dual_steps // 10)`` rounds, then cosine decay towards 0 at ``dual_steps``."""
    if cfg.dual_schedule == "constant":
        return cfg.dual_lr
    warmup = min(cfg.warmup, cfg.dual_steps // 10)
    if r < warmup:
        return cfg.dual_lr * (r + 1) / warmup
    return cfg.dual_lr * 0.5 * (1 + math.cos(math.pi * (r - warmup) / max(1, cfg.dual_steps - warmup)))


def run_dual(ctx: RunContext, cfg: DualConfig, pair: TranslatorPair, lms: LanguageModels, corpus: Corpus, *,
             offset: int, warm: Mapping[str, Any]) -> None:
    """``dual_steps`` rounds: a game from English, one from Spanish, one supervised step; validation BLEU and a
    checkpoint every ``dual_eval_every`` rounds."""
    tok, device = corpus.tokenizer, ctx.device
    params = list(pair.parameters())
    opt = torch.optim.Adam(params, lr=cfg.dual_lr)
    start = 0
    state = ctx.resume_state
    if state is not None and state.get("phase") == "dual":
        opt.load_state_dict(state["optimizer"])
        start = int(state["round"])
        set_rng_state(state["rng"])
    lms.eval()
    for p in lms.parameters():
        p.requires_grad_(False)
    pairs = both_ways(corpus.pairs)
    mono = {"en": corpus.mono_en, "es": corpus.mono_es}

    def draw(items: Sequence[Any], r: int, size: int, salt: int) -> list[Any]:
        """Batch ``r`` of a per-epoch permutation seeded with (seed, salt, epoch): resumable, no RNG state."""
        per = max(1, len(items) // size)
        epoch, pos = divmod(r, per)
        perm = torch.randperm(len(items), generator=torch.Generator().manual_seed(
            ctx.seed * 1_000_003 + salt * 10_007 + epoch)).tolist()
        return [items[i] for i in perm[pos * size : (pos + 1) * size]]

    if start == 0:  # the curve starts at the warm start
        ctx.logger.log(bleu_both(pair, tok, corpus.valid, beam=1, device=device, prefix="val")[0], offset)
    ctx.progress.start(cfg.dual_steps, unit="rounds")
    ctx.progress.update(start)
    pair.train()
    for r in range(start, cfg.dual_steps):
        lr = dual_lr_at(cfg, r)
        for group in opt.param_groups:
            group["lr"] = lr
        logged: dict[str, float] = {"dual/lr": lr}
        games = (("en", pair.en_es, pair.es_en, lms.es), ("es", pair.es_en, pair.en_es, lms.en))
        for salt, (lang, primal, dual, lm) in enumerate(games if cfg.games else ()):
            src = batch_of(tok, draw(mono[lang], r, cfg.dual_batch, salt), device)
            loss, info = dual_game(primal, dual, lm, src, cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            logged.update({f"dual/{k}_{lang}": v for k, v in info.items()})
        loss = mean_pairs_loss(pair, tok, draw(pairs, r, cfg.batch_size, 2), cfg.label_smoothing, device)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        logged["dual/supervised_loss"] = float(loss.detach())
        done = r + 1
        if done % cfg.log_every == 0 or done == cfg.dual_steps:
            ctx.logger.log(logged, offset + done)
        ctx.progress.update(done, **({"reward": logged["dual/reward_en"]} if cfg.games else {}))
        if done % cfg.dual_eval_every == 0 or done == cfg.dual_steps:
            val, _, _ = bleu_both(pair, tok, corpus.valid, beam=1, device=device, prefix="val")
            ctx.logger.log(val, offset + done)
            ctx.save_checkpoint({"phase": "dual", "model": pair.state_dict(), "lms": lms.state_dict(),
                                 "optimizer": opt.state_dict(), "round": done, "warm": dict(warm),
                                 "rng": rng_state()}, offset + done)


# The settings a warm start depends on: a run continuing from another's warm start (``warm_start``) must share them
WARM_KEYS = ("corpus", "fraction", "vocab_size", "max_tokens", "hidden", "heads", "layers", "dropout",
             "label_smoothing", "epochs", "batch_size", "lr", "warmup", "weight_decay", "grad_clip", "val_sentences",
             "test_sentences", "beam")


def find_warm_start(cfg: DualConfig, seed: int) -> tuple[Any, dict[str, Any]]:
    """The finished supervised run ``cfg.warm_start`` names for ``seed``: its folder and checkpoint state, read
    safely. The folder itself when it is a run folder, else the newest finished run folder of ``seed`` under it or
    one level down (``<out>/nmt-en-es-10pct/<seed>-*``) whose settings match.

    Raises:
        ConfigError: no such folder, no finished supervised run of ``seed`` there, or its settings differ (the first
            difference is named).
        CheckpointError: a corrupt or foreign checkpoint.
    """
    from pathlib import Path

    from dlfrontier.errors import ConfigError, DLFrontierError
    from dlfrontier.tracking import RunDir

    root = Path(cfg.warm_start).expanduser()
    if not root.is_dir():
        raise ConfigError(f"warm_start={cfg.warm_start!r} is not a folder: give the run folder of a finished "
                          "nmt-en-es-10pct run (or the folder that holds its run folders)")
    if RunDir(root).is_run():
        found = [root]
    else:
        found = sorted((p for p in [*root.glob(f"{int(seed)}-*"), *root.glob(f"*/{int(seed)}-*")]
                        if RunDir(p).is_run() and not p.is_symlink()), key=lambda p: p.name, reverse=True)
    want = {"seed": int(seed), "status": "done", "method": "supervised", **{k: getattr(cfg, k) for k in WARM_KEYS}}
    defaults = {f.name: f.default for f in dataclasses.fields(DualConfig)}
    differences = []
    for path in found:
        run = RunDir(path)
        try:
            saved, summary = run.read_config(), run.read_summary()
        except DLFrontierError as err:
            differences.append(f"{path}: {err}")
            continue
        raw = saved.get("config")
        values = raw if isinstance(raw, dict) else {}
        have = {**{k: values.get(k, defaults.get(k)) for k in want}, "seed": saved.get("seed"),
                "status": summary.get("status")}  # (a setting added later reads as its default in older runs)
        diff = next((k for k in want if have[k] != want[k]), None)
        if diff is not None:
            differences.append(f"{path}: {diff} is {have[diff]!r}, this run needs {want[diff]!r}")
            continue
        state = run.load_checkpoint(str(saved.get("experiment"))).state  # safely: tensors, numbers, strings only
        if state.get("phase") != "done" or not isinstance(state.get("model"), dict) \
                or not isinstance(state.get("warm"), dict):
            differences.append(f"{path}: not a finished translation run")
            continue
        return path, state
    detail = f" ({differences[0]})" if differences else ""
    raise ConfigError(f"warm_start={cfg.warm_start!r} holds no finished supervised translation run of seed {seed} "
                      f"with this run's settings{detail}: run `dlfrontier run nmt-en-es-10pct --seeds {seed}` there "
                      "first, or leave warm_start empty")


def load_warm_start(cfg: DualConfig, seed: int, pair: TranslatorPair, tok: Any) -> dict[str, Any]:
    """Load the warm-start run ``cfg.warm_start``'s translators into ``pair`` (after checking its vocabulary against
    this run's ``tok``); returns ``{"warm": its test scores, examples and signature, plus its folder}``.

    Raises:
        CheckpointError: its tokenizer or translators differ from this run's (another sentencepiece version, a
            changed architecture).
    """
    from dlfrontier.errors import CheckpointError

    path, state = find_warm_start(cfg, seed)
    saved_tok = state.get("tokenizer")
    if not isinstance(saved_tok, torch.Tensor) or bytes(saved_tok.numpy().tobytes()) != tok.to_bytes():
        raise CheckpointError(f"{path}: its subword vocabulary differs from the one this run trains (another "
                              "sentencepiece version?): train the warm start again (leave warm_start empty)")
    try:
        pair.load_state_dict(state["model"])
    except (RuntimeError, TypeError, KeyError) as err:
        raise CheckpointError(f"{path}: its translators do not fit this run's models ({str(err)[:120]})") \
            from err
    return {"warm": {**state["warm"], "source": str(path)}}


def check_warm_start(cfg: DualConfig, seed: int) -> None:
    """The experiments' preflight: a corpus folder without its split files, or a ``warm_start`` that cannot be
    used, is refused before a run folder exists."""
    if cfg.corpus:
        from dlfrontier.data.parallel import require_corpus

        require_corpus(corpus=cfg.corpus)
    if cfg.warm_start:
        find_warm_start(cfg, seed)


def train_translation(ctx: RunContext, cfg: DualConfig) -> dict[str, float]:
    """The run: data, warm start, then ``cfg.method``; test BLEU of both directions (see the module docstring)."""
    started = time.perf_counter()
    show_phase(ctx.progress, "splitting the corpus and training the subword vocabulary")
    corpus = prepare_corpus(cfg, ctx.seed)
    tok, device = corpus.tokenizer, ctx.device
    pair = TranslatorPair(cfg, tok.vocab_size).to(device)
    state: dict[str, Any] = ctx.resume_state or {}
    phase = state.get("phase")
    if phase is None and cfg.warm_start:  # continue from another run's warm start: its models and test scores
        show_phase(ctx.progress, f"warm start read from {cfg.warm_start}")
        phase, state = "reused", load_warm_start(cfg, ctx.seed, pair, tok)
    if phase not in (None, "warm", "reused"):  # (a reused warm start is in ``pair`` already)
        pair.load_state_dict(state["model"] if phase in ("bt", "dual", "done") else state["translators"])
    warm_pairs = both_ways(corpus.pairs)
    warm_its = cfg.epochs * math.ceil(len(warm_pairs) / cfg.batch_size)
    if phase in (None, "warm"):
        show_phase(ctx.progress, f"supervised warm start on {len(corpus.pairs):,} sentence pairs")
        fit_pairs(ctx, cfg, pair, corpus, warm_pairs, phase="warm", epochs=cfg.epochs, lr=cfg.lr, offset=0,
                  extra={}, prefix="")
    warm_seconds = time.perf_counter() - started
    if phase in (None, "warm"):
        show_phase(ctx.progress, f"beam search (beam {cfg.beam}) on {len(corpus.test):,} test verses")
        scores, hyp, signature = bleu_both(pair, tok, corpus.test, beam=cfg.beam, device=device, prefix="eval")
        warm: dict[str, Any] = {"scores": scores, "examples": {d: hyp[d][:EXAMPLES] for d in DIRECTIONS},
                                "signature": signature}
    else:
        warm = dict(state["warm"])
    if phase in (None, "warm", "reused"):  # the phases after the warm start draw from their own stream, so a run
        seed_everything(ctx.seed * 1_000_003 + 21)  # that read its warm start (warm_start) equals one that trained it
    metrics = dict(warm["scores"])
    offset = warm_its
    if cfg.method == "backtranslation" and phase != "done":
        if phase == "bt":
            synthetic = [(int(d), list(s), list(t)) for d, s, t in state["synthetic"]]
        else:
            show_phase(ctx.progress, f"back-translating {len(corpus.mono_en):,} + {len(corpus.mono_es):,} "
                                     "monolingual sentences (greedy)")
            synthetic = back_translations(pair, corpus, device)
        show_phase(ctx.progress, f"training on {len(corpus.pairs):,} real + {len(synthetic):,} synthetic pairs")
        offset += fit_pairs(ctx, cfg, pair, corpus, warm_pairs + synthetic, phase="bt", epochs=cfg.bt_epochs,
                            lr=cfg.bt_lr, offset=offset, extra={"warm": warm, "synthetic": synthetic}, prefix="bt/")
    elif cfg.method == "dual" and phase != "done":
        lms = LanguageModels(cfg, tok.vocab_size).to(device)
        if phase == "dual":
            lms.load_state_dict(state["lms"])
        elif cfg.games:
            show_phase(ctx.progress, "training the English and Spanish language models")
            fit_language_models(ctx, cfg, lms, corpus, offset=offset,
                                extra={"warm": warm, "translators": pair.state_dict()})
        offset += cfg.lm_epochs * math.ceil(len(lm_sentences(corpus)) / cfg.batch_size) if cfg.games else 0
        show_phase(ctx.progress, f"dual learning: {cfg.dual_steps} rounds of "
                                 + ("two games and a supervised step" if cfg.games else "a supervised step only"))
        run_dual(ctx, cfg, pair, lms, corpus, offset=offset, warm=warm)
        offset += cfg.dual_steps
    if cfg.method != "supervised":
        show_phase(ctx.progress, f"beam search (beam {cfg.beam}) on {len(corpus.test):,} test verses")
        scores, hyp, signature = bleu_both(pair, tok, corpus.test, beam=cfg.beam, device=device, prefix="eval")
        metrics = {**scores, **{f"warm/{k.split('/')[1]}": v for k, v in warm["scores"].items()}}
        for d in DIRECTIONS:
            metrics[f"eval/gain_{d}"] = scores[f"eval/bleu_{d}"] - warm["scores"][f"eval/bleu_{d}"]
        metrics["eval/min_gain"] = min(metrics["eval/gain_en_es"], metrics["eval/gain_es_en"])
    else:
        hyp, signature = warm["examples"], warm["signature"]
    tokenizer_bytes = torch.frombuffer(bytearray(tok.to_bytes()), dtype=torch.uint8).clone()
    offset = int(state["step"]) if phase == "done" else offset
    ctx.save_checkpoint({"phase": "done", "model": pair.state_dict(), "warm": warm, "tokenizer": tokenizer_bytes,
                         "step": offset},
                        offset)
    write_tables(ctx, cfg, corpus, warm, {d: hyp[d][:EXAMPLES] for d in DIRECTIONS}, metrics, signature)
    return {**metrics, "data/bilingual_pairs": float(len(corpus.pairs)),
            "data/mono_en": float(len(corpus.mono_en)), "data/mono_es": float(len(corpus.mono_es)),
            "data/test_verses": float(len(corpus.test)), "data/vocab": float(tok.vocab_size),
            "model/params": float(sum(p.numel() for p in pair.en_es.parameters())),
            "time/warm_seconds": warm_seconds, "time/train_seconds": time.perf_counter() - started}


def write_tables(ctx: RunContext, cfg: DualConfig, corpus: Corpus, warm: Mapping[str, Any],
                 final: Mapping[str, Sequence[str]], metrics: Mapping[str, float], signature: str) -> None:
    """``tables/bleu.json`` (warm start and final BLEU, both directions, the signature) and
    ``tables/examples.json`` (test verses with reference, warm-start and final translations)."""
    atomic_write_json(ctx.run_dir / "tables" / "bleu.json", {
        "method": cfg.method, "fraction": cfg.fraction, "signature": signature, "warm_start": warm.get("source", ""),
        "warm": dict(warm["scores"]), "final": {k: v for k, v in metrics.items() if k.startswith("eval/")}})
    rows = []
    for i, (en, es) in enumerate(corpus.test[:EXAMPLES]):
        rows.append({"en": en, "es": es,
                     "warm_en_es": warm["examples"]["en_es"][i], "warm_es_en": warm["examples"]["es_en"][i],
                     "en_es": final["en_es"][i], "es_en": final["es_en"][i]})
    atomic_write_json(ctx.run_dir / "tables" / "examples.json", {"method": cfg.method, "rows": rows})


__all__ = ["Corpus", "LanguageModels", "TranslatorPair", "back_translations", "bleu_both", "check_warm_start",
           "dual_game", "dual_lr_at", "find_warm_start", "prepare_corpus", "smoothed_token_loss",
           "train_translation", "translate"]
