"""``dlfrontier eval`` for a translation run: test verses with the reference, the warm start's (10% baseline's)
and the final models' translations, both directions; written to ``OUT_DIR/translations.md`` and printed."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def evaluate_translation(loaded: Any, *, episodes: int = 5, gif: str | None = None, device: str = "auto",
                         out_dir: str | Path = "eval") -> Path:
    """Translate the first ``episodes`` test verses with the run's final models (beam search) beside the reference
    and the warm start's translations kept in the run; never writes into the run folder."""
    from dlfrontier.data.parallel import splits
    from dlfrontier.dual.tokenizer import SubwordTokenizer
    from dlfrontier.dual.training import TranslatorPair, translate
    from dlfrontier.errors import CheckpointError
    from dlfrontier.runtime import resolve_device
    from dlfrontier.tracking import atomic_write_text

    state, cfg = loaded.state, loaded.config
    if state.get("phase") != "done":
        raise CheckpointError(f"{loaded.path}: the run has not finished (its checkpoint is in phase "
                              f"{state.get('phase')!r}); resume it with dlfrontier run --resume first")
    if gif:
        print("--gif is ignored: translation has no episodes to animate")
    dev = resolve_device(device)
    tok = SubwordTokenizer.from_bytes(bytes(state["tokenizer"].tolist()))
    pair = TranslatorPair(cfg, tok.vocab_size)
    pair.load_state_dict(state["model"])
    pair.to(dev)
    n = max(1, min(int(episodes), len(state["warm"]["examples"]["en_es"])))
    test = splits(corpus=cfg.corpus).test[:n]
    en_es = translate(pair.en_es, tok, [p[0] for p in test], beam=cfg.beam, device=dev)
    es_en = translate(pair.es_en, tok, [p[1] for p in test], beam=cfg.beam, device=dev)
    warm = state["warm"]["examples"]
    final_name = "10% baseline" if cfg.method == "supervised" and cfg.fraction < 1 else cfg.method
    lines = [f"# {loaded.experiment} (seed {loaded.seed}): test verses, beam {cfg.beam}", ""]
    for i, (en, es) in enumerate(test):
        lines += [f"## verse {i + 1}", f"- English: {en}", f"- Spanish reference: {es}"]
        if cfg.method != "supervised":
            lines += [f"- en->es, warm start (10% baseline): {warm['en_es'][i]}"]
        lines += [f"- en->es, {final_name}: {en_es[i]}"]
        if cfg.method != "supervised":
            lines += [f"- es->en, warm start (10% baseline): {warm['es_en'][i]}"]
        lines += [f"- es->en, {final_name}: {es_en[i]}", ""]
    text = "\n".join(lines)
    print(text)
    path = Path(out_dir) / "translations.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text + "\n")
    print(f"wrote {path}")
    return path


__all__ = ["evaluate_translation"]
