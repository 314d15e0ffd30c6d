"""The translation pipelines end to end on a tiny budget: metrics, tables, resume from every phase, eval, errors."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from dlfrontier.dual.config import DualConfig
from dlfrontier.dual.models import sequence_logprob
from dlfrontier.dual.training import (
    EN_ES,
    Corpus,
    TranslatorPair,
    _PhaseContext,
    back_translations,
    dual_lr_at,
    prepare_corpus,
    smoothed_token_loss,
    train_translation,
)
from dlfrontier.errors import CheckpointError, ConfigError, DLFrontierError
from dlfrontier.experiments.runner import plan_run, run_one
from dlfrontier.runtime import RunContext, seed_everything
from dlfrontier.tracking import RunDir

TINY = {"fraction": 0.01, "vocab_size": 300, "hidden": 32, "heads": 2, "layers": 1, "lm_layers": 1, "epochs": 1,
        "batch_size": 32, "warmup": 5, "mono_sentences": 64, "bt_epochs": 1, "lm_epochs": 1, "dual_steps": 4,
        "dual_batch": 8, "dual_eval_every": 2, "val_sentences": 16, "test_sentences": 12, "beam": 2,
        "log_every": 2}


class Recorder:
    """A run's logger and checkpoint hook: every logged point and a deep copy of every checkpoint."""

    def __init__(self) -> None:
        self.points: list[tuple[int, dict[str, float]]] = []
        self.checkpoints: list[tuple[int, dict[str, Any]]] = []

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.points.append((step, dict(metrics)))

    def hook(self, state: dict[str, Any], step: int) -> None:
        self.checkpoints.append((step, copy.deepcopy(state)))


def run_tiny(tmp: Path, method: str, resume: dict[str, Any] | None = None, seed: int = 3,
             ) -> tuple[dict[str, float], Recorder]:
    seed_everything(seed)
    rec = Recorder()
    ctx = RunContext("tiny", seed, "quick", torch.device("cpu"), tmp, rec, resume_state=resume,
                     checkpoint_hook=rec.hook)
    return train_translation(ctx, DualConfig(**{**TINY, "method": method})), rec


@pytest.fixture(scope="module")
def dual_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, float], Recorder, Path]:
    out = tmp_path_factory.mktemp("dual")
    metrics, rec = run_tiny(out, "dual")
    return metrics, rec, out


def test_dual_run_reports_both_directions_and_its_gain_over_its_own_warm_start(dual_run):
    metrics, rec, out = dual_run
    for d in ("en_es", "es_en"):
        assert 0.0 <= metrics[f"eval/bleu_{d}"] <= 100.0
        assert metrics[f"eval/gain_{d}"] == pytest.approx(metrics[f"eval/bleu_{d}"] - metrics[f"warm/bleu_{d}"])
    assert metrics["eval/min_gain"] == min(metrics["eval/gain_en_es"], metrics["eval/gain_es_en"])
    phases = [state["phase"] for _, state in rec.checkpoints]
    assert phases == ["warm", "lm", "dual", "dual", "done"]
    steps = [step for step, _ in rec.checkpoints]
    assert steps == sorted(steps) and steps[-1] >= max(s for s, _ in rec.points)  # no point after the last save
    keys = {k for _, m in rec.points for k in m}
    assert {"dual/reward_en", "dual/reward_es", "dual/recon_en", "dual/lm_es", "val/bleu_mean",
            "lm/val/lm_nll_en", "val/nll_en_es"} <= keys
    bleu = json.loads((out / "tables" / "bleu.json").read_text())
    assert bleu["signature"].startswith("nrefs:1|") and bleu["method"] == "dual"
    rows = json.loads((out / "tables" / "examples.json").read_text())["rows"]
    assert len(rows) == 8 and all(r["en"] and r["es"] for r in rows)


@pytest.mark.parametrize("phase", ["lm", "dual"])
def test_dual_run_resumed_from_a_checkpoint_ends_where_the_uninterrupted_run_ends(dual_run, tmp_path, phase):
    metrics, rec, _ = dual_run
    state = next(s for _, s in rec.checkpoints if s["phase"] == phase)
    resumed, rec2 = run_tiny(tmp_path, "dual", resume=state)
    final = {k: v for k, v in metrics.items() if k.startswith(("eval/", "warm/"))}
    assert {k: resumed[k] for k in final} == pytest.approx(final, abs=1e-9)
    assert [step for step, _ in rec2.checkpoints] == [step for step, s in rec.checkpoints][-len(rec2.checkpoints):]
    assert torch.equal(rec2.checkpoints[-1][1]["model"]["en_es.out.weight"],
                       rec.checkpoints[-1][1]["model"]["en_es.out.weight"])


def test_backtranslation_trains_on_synthetic_pairs_and_resumes_from_its_phase(tmp_path):
    metrics, rec = run_tiny(tmp_path / "a", "backtranslation")
    bt_states = [s for _, s in rec.checkpoints if s["phase"] == "bt"]
    assert len(bt_states) == 1
    synthetic = bt_states[0]["synthetic"]
    # every kept monolingual sentence became one synthetic example of the other direction (empty outputs dropped)
    assert 0 < len(synthetic) <= 2 * TINY["mono_sentences"]
    assert {d for d, _, _ in synthetic} <= {0, 1}
    resumed, _ = run_tiny(tmp_path / "b", "backtranslation", resume=bt_states[0])
    final = {k: v for k, v in metrics.items() if k.startswith(("eval/", "warm/"))}
    assert {k: resumed[k] for k in final} == pytest.approx(final, abs=1e-9)


def test_supervised_run_has_no_gain_keys_and_full_data_has_no_monolingual_text(tmp_path):
    metrics, rec = run_tiny(tmp_path, "supervised")
    assert "eval/bleu_mean" in metrics and "eval/min_gain" not in metrics
    assert [s["phase"] for _, s in rec.checkpoints] == ["warm", "done"]
    corpus = prepare_corpus(DualConfig(**{**TINY, "fraction": 1.0, "max_tokens": 1000}), 0)
    assert corpus.mono_en == [] and corpus.mono_es == [] and len(corpus.pairs) == 22_119  # every training pair
    with pytest.raises(ConfigError, match="monolingual"):
        DualConfig(method="dual", fraction=1.0)
    with pytest.raises(ConfigError, match="divide"):
        DualConfig(hidden=30, heads=4)


@pytest.fixture(scope="module")
def tiny_corpus() -> Corpus:
    return prepare_corpus(DualConfig(**TINY), 0)


def test_monolingual_halves_hold_no_pair_of_the_bilingual_share(tiny_corpus):
    tok = tiny_corpus.tokenizer
    en = {tuple(s) for s in tiny_corpus.mono_en}
    es = {tuple(s) for s in tiny_corpus.mono_es}
    assert not any(tuple(a) in en and tuple(b) in es for a, b in tiny_corpus.pairs)
    assert len(tok.decode(tiny_corpus.mono_en[:3])) == 3


def test_unsmoothed_loss_equals_the_teacher_forced_log_likelihood(tiny_corpus):
    torch.manual_seed(0)
    pair = TranslatorPair(DualConfig(**TINY), tiny_corpus.tokenizer.vocab_size).eval()
    tok = tiny_corpus.tokenizer
    src = tok.batch([p[0] for p in tiny_corpus.pairs[:5]])
    tgt = tok.batch([p[1] for p in tiny_corpus.pairs[:5]])
    loss, n = smoothed_token_loss(pair.en_es, src, tgt, 0.0)
    total, count = sequence_logprob(pair.en_es, src, tgt)
    assert n == int(count.sum())
    assert float(loss.detach()) == pytest.approx(float(-total.detach().sum()), rel=1e-5)
    smoothed, _ = smoothed_token_loss(pair.en_es, src, tgt, 0.1)
    assert float(smoothed.detach()) != pytest.approx(float(loss.detach()))


def test_back_translation_pairs_machine_source_with_the_human_target(tiny_corpus):
    torch.manual_seed(0)
    pair = TranslatorPair(DualConfig(**TINY), tiny_corpus.tokenizer.vocab_size)
    small = Corpus(tiny_corpus.tokenizer, tiny_corpus.pairs, tiny_corpus.mono_en[:3], tiny_corpus.mono_es[:4],
                   tiny_corpus.valid, tiny_corpus.test)
    synthetic = back_translations(pair, small, "cpu")
    targets_en_es = [t for d, _, t in synthetic if d == EN_ES]
    assert all(t in small.mono_es for t in targets_en_es)  # human Spanish targets for en->es
    assert all(t in small.mono_en for d, _, t in synthetic if d != EN_ES)


def test_phase_context_hides_other_phases_state_and_tags_its_checkpoints():
    rec = Recorder()
    ctx = RunContext("x", 0, "quick", "cpu", Path("."), rec, resume_state={"phase": "warm", "epoch": 1},
                     checkpoint_hook=rec.hook)
    assert _PhaseContext(ctx, "lm", 10, {}).resume_state is None
    warm = _PhaseContext(ctx, "warm", 0, {"x": 1})
    assert warm.resume_state == {"phase": "warm", "epoch": 1}
    lm = _PhaseContext(ctx, "lm", 10, {"warm": 2})
    lm.save_checkpoint({"epoch": 3}, 5)
    lm.log({"a": 1.0}, 4)
    assert rec.checkpoints == [(15, {"epoch": 3, "warm": 2, "phase": "lm"})]
    assert rec.points == [(14, {"a": 1.0})]


def test_cli_checks_the_extra_and_the_corpus_before_any_folder(tmp_path):
    code = ("import sys\n"
            "sys.modules['sentencepiece'] = None  # importing it now raises ImportError, as when it is absent\n"
            "from dlfrontier.cli import main\n"
            "sys.exit(main(['run', 'nmt-en-es-10pct', '--out', sys.argv[1]]))\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "runs")], capture_output=True, text=True)
    assert out.returncode != 0
    assert 'pip install "dlfrontier[dual]"' in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "runs").exists()
    env_missing = subprocess.run([sys.executable, "-m", "dlfrontier", "run", "nmt-en-es-10pct", "--out",
                                  str(tmp_path / "runs2")], capture_output=True, text=True,
                                 env={"DLFRONTIER_DATA": str(tmp_path / "nodata"), "PATH": "/usr/bin:/bin"})
    assert env_missing.returncode != 0 and "parallel corpus not found" in env_missing.stderr
    assert "Traceback" not in env_missing.stderr and not (tmp_path / "runs2").exists()


def test_eval_prints_reference_warm_start_and_final_translations(dual_run, tmp_path, capsys):
    from types import SimpleNamespace

    from dlfrontier.dual.evaluation import evaluate_translation

    _, rec, _ = dual_run
    done = rec.checkpoints[-1][1]
    loaded = SimpleNamespace(state=done, config=DualConfig(**{**TINY, "method": "dual"}), seed=3,
                             experiment="dual-learning-en-es", path=tmp_path)
    path = evaluate_translation(loaded, episodes=2, out_dir=tmp_path / "eval")
    text = path.read_text()
    assert text.count("## verse") == 2 and "Spanish reference: " in text
    assert f"warm start (10% baseline): {done['warm']['examples']['en_es'][0]}" in text
    assert "wrote" in capsys.readouterr().out
    unfinished = SimpleNamespace(**{**vars(loaded), "state": rec.checkpoints[0][1]})
    with pytest.raises(CheckpointError, match="not finished"):
        evaluate_translation(unfinished, out_dir=tmp_path / "eval2")


def test_n_best_beam_rows_are_the_final_beam_best_first(tiny_corpus):
    from dlfrontier.multimodal.captioning.decoding import beam_search

    torch.manual_seed(1)
    pair = TranslatorPair(DualConfig(**TINY), tiny_corpus.tokenizer.vocab_size).eval()
    src = tiny_corpus.tokenizer.batch([p[0] for p in tiny_corpus.pairs[:3]])
    best = beam_search(pair.en_es, src, beam=4, max_steps=6)
    top = beam_search(pair.en_es, src, beam=4, max_steps=6, n_best=2)
    assert top.tokens.shape[0] == 6 and torch.equal(top.tokens[0::2], best.tokens)
    assert torch.equal(top.score[0::2], best.score) and bool((top.score[0::2] >= top.score[1::2]).all())
    with pytest.raises(ValueError, match="n_best"):
        beam_search(pair.en_es, src, beam=2, n_best=3)


def test_a_run_continued_from_a_warm_start_run_equals_the_run_that_trained_its_own(tmp_path):
    sets = {k: str(v) for k, v in TINY.items()}
    out = tmp_path / "runs"
    warm = run_one("nmt-en-es-10pct", 3, overrides=sets, out=out, tensorboard=False)
    reused = run_one("backtranslation-en-es", 3, overrides={**sets, "warm_start": str(out)}, out=out,
                     tensorboard=False)
    whole = run_one("backtranslation-en-es", 3, overrides=sets, out=tmp_path / "whole", tensorboard=False)
    final = {k: v for k, v in whole["metrics"].items() if k.startswith(("eval/", "warm/"))}
    assert {k: reused["metrics"][k] for k in final} == final  # bit for bit: same warm models, same later stream
    assert all(reused["metrics"][f"warm/bleu_{d}"] == warm["metrics"][f"eval/bleu_{d}"] for d in ("en_es", "es_en"))
    bleu = json.loads((Path(reused["run_dir"]) / "tables" / "bleu.json").read_text())
    assert bleu["warm_start"] == warm["run_dir"]
    logged, logged_whole = RunDir(reused["run_dir"]).metrics(), RunDir(whole["run_dir"]).metrics()
    assert "bt/val/nll_en_es" in logged and "val/nll_en_es" not in logged  # no warm phase was trained
    assert logged["bt/val/nll_en_es"] == logged_whole["bt/val/nll_en_es"]  # the same curve at the same steps

    moved = shutil.move(warm["run_dir"], tmp_path / "moved")  # a resume does not read it again
    plan = plan_run("backtranslation-en-es", 3, overrides={**sets, "warm_start": str(out)}, out=out, resume=True)
    assert plan.done_summary is not None
    shutil.move(moved, warm["run_dir"])

    def refused(overrides: dict[str, str], seed: int = 3) -> str:
        dest = tmp_path / f"refused-{len(list(tmp_path.iterdir()))}"
        with pytest.raises(DLFrontierError) as err:
            run_one("backtranslation-en-es", seed, overrides={**sets, **overrides}, out=dest, tensorboard=False)
        assert not dest.exists()  # refused before any run folder
        return str(err.value)

    assert "is not a folder" in refused({"warm_start": str(tmp_path / "nowhere")})
    assert "nmt-en-es-10pct --seeds 4" in refused({"warm_start": str(out)}, seed=4)
    assert "hidden is 32, this run needs 16" in refused({"warm_start": warm["run_dir"], "hidden": "16"})
    assert "method=backtranslation" in str(pytest.raises(ConfigError, DualConfig, warm_start=str(out)).value)
    broken = tmp_path / "broken"
    shutil.copytree(warm["run_dir"], broken)
    (broken / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        run_one("backtranslation-en-es", 3, overrides={**sets, "warm_start": str(broken)}, out=tmp_path / "b2",
                tensorboard=False)
    assert not (tmp_path / "b2").exists()


def test_dual_game_loss_is_reconstruction_plus_weighted_policy_gradient(tiny_corpus):
    """With beam middles (deterministic in eval mode) the game's loss is linear in ``pg_weight``; at 0 it is the
    reconstruction loss alone and the primal model gets no gradient (online back-translation)."""
    from dlfrontier.dual.training import LanguageModels, dual_game

    cfg0 = DualConfig(**{**TINY, "middle": "beam", "pg_weight": 0.0})
    torch.manual_seed(0)
    pair = TranslatorPair(cfg0, tiny_corpus.tokenizer.vocab_size).eval()
    lms = LanguageModels(cfg0, tiny_corpus.tokenizer.vocab_size).eval()
    src = torch.nn.utils.rnn.pad_sequence([torch.tensor(s[:12] + [2]) for s in tiny_corpus.mono_en[:6]],
                                          batch_first=True)
    losses = {}
    for w in (0.0, 1.0, 2.5):
        cfg = DualConfig(**{**TINY, "middle": "beam", "pg_weight": w})
        pair.zero_grad(set_to_none=True)
        loss, info = dual_game(pair.en_es, pair.es_en, lms.es, src, cfg)
        loss.backward()
        primal_grad = [p.grad for p in pair.en_es.parameters() if p.grad is not None]
        assert (not primal_grad) == (w == 0.0)  # the primal learns only from the policy gradient
        losses[w] = float(loss.detach())
    pg = losses[1.0] - losses[0.0]
    assert losses[2.5] == pytest.approx(losses[0.0] + 2.5 * pg, rel=1e-5, abs=1e-6)


def test_dual_learning_rate_schedules():
    const = DualConfig(**{**TINY, "dual_lr": 1e-3, "dual_steps": 100})
    assert [dual_lr_at(const, r) for r in (0, 50, 99)] == [1e-3] * 3
    cos = DualConfig(**{**TINY, "dual_lr": 1e-3, "dual_steps": 100, "warmup": 200, "dual_schedule": "cosine"})
    lrs = [dual_lr_at(cos, r) for r in range(100)]
    assert lrs[:10] == pytest.approx([1e-3 * (r + 1) / 10 for r in range(10)])  # warm-up: a tenth of the rounds
    assert lrs[10] == pytest.approx(1e-3) and all(a > b for a, b in zip(lrs[10:], lrs[11:], strict=False))
    assert lrs[55] == pytest.approx(0.5e-3) and 0 < lrs[-1] < 1e-6
    from dlfrontier.ranges import check_ranges

    with pytest.raises(ConfigError, match="pg_weight"):
        check_ranges(DualConfig(pg_weight=-0.1))


def test_a_run_on_a_corpus_folder_reads_its_splits_and_not_the_bundled_corpus(tmp_path, monkeypatch):
    # A corpus folder (the path for WMT-size data) made of the bundled corpus's first pairs: the run needs nothing
    # else from the data root, tests on the folder's test file, and a warm start of another corpus is refused.
    from dlfrontier.data.parallel import splits

    bundled = splits()
    folder = tmp_path / "mini"
    folder.mkdir()
    for name, part in (("train", bundled.train[:1500]), ("valid", bundled.valid[:40]), ("test", bundled.test[-40:])):
        (folder / f"{name}.tsv").write_text("".join(f"{en}\t{es}\n" for en, es in part), encoding="utf-8")
    sets = {**{k: str(v) for k, v in TINY.items()}, "corpus": str(folder)}
    warm_bundled = run_one("nmt-en-es-10pct", 3, overrides={k: str(v) for k, v in TINY.items()},
                           out=tmp_path / "bundled", tensorboard=False)
    monkeypatch.setenv("DLFRONTIER_DATA", str(tmp_path / "empty"))  # the bundled corpus is not there now
    corpus = prepare_corpus(DualConfig(**{**TINY, "corpus": str(folder)}), 3)
    assert corpus.test == bundled.test[-40:][: TINY["test_sentences"]] and corpus.valid == bundled.valid[:16]
    assert len(corpus.pairs) <= 15 and len(corpus.mono_en) + len(corpus.mono_es) <= 1485  # 1% of 1,500 bilingual
    result = run_one("nmt-en-es-10pct", 3, overrides=sets, out=tmp_path / "runs", tensorboard=False)
    assert result["metrics"]["data/test_verses"] == TINY["test_sentences"]
    rows = json.loads((Path(result["run_dir"]) / "tables" / "examples.json").read_text())["rows"]
    assert [(r["en"], r["es"]) for r in rows] == bundled.test[-40:][:8]
    with pytest.raises(DLFrontierError, match="corpus is ''"):
        run_one("backtranslation-en-es", 3, overrides={**sets, "warm_start": warm_bundled["run_dir"]},
                out=tmp_path / "refused", tensorboard=False)
    (folder / "test.tsv").unlink()
    with pytest.raises(DLFrontierError, match="no test.tsv.gz or test.tsv"):
        run_one("nmt-en-es-10pct", 3, overrides=sets, out=tmp_path / "refused2", tensorboard=False)
    assert not (tmp_path / "refused").exists() and not (tmp_path / "refused2").exists()
