"""The tables a VQA run writes: test accuracy beside Santoro et al. 2017, and accuracy per question type."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dlfrontier.data.sort_of_clevr import QUESTION_TYPES, RELATIONAL_TYPES
from dlfrontier.tracking import atomic_write_json

PAPER = {  # Santoro et al. 2017, Sort-of-CLEVR (Section 5.2): (relational, non-relational) accuracy
    "relation-network": (0.94, 0.94),  # "above 94% for both relational and non-relational questions"
    "cnn-mlp": (0.63, 0.94),  # "only reached this performance on the non-relational questions, plateauing at 63%"
}


def pct(v: float | None) -> str:
    """``0.9412`` -> ``"94.1%"``; ``None`` or NaN -> ``"—"``."""
    return "—" if v is None or v != v else f"{100 * v:.1f}%"


def write_tables(run_dir: Path, model_name: str, scores: Mapping[str, float], train_seconds: float) -> None:
    """``tables/accuracy.json`` (relational / non-relational beside the paper) and ``tables/question_types.json``."""
    paper_rel, paper_nonrel = PAPER.get(model_name, (None, None))
    atomic_write_json(
        Path(run_dir) / "tables" / "accuracy.json",
        {
            "title": f"Sort-of-CLEVR test accuracy ({model_name}) beside Santoro et al. 2017",
            "columns": ["model", "relational", "non-relational", "overall", "paper relational",
                        "paper non-relational", "train s"],
            "rows": [[
                model_name,
                pct(scores["eval/accuracy_relational"]),
                pct(scores["eval/accuracy_nonrelational"]),
                pct(scores["eval/accuracy"]),
                pct(paper_rel),
                pct(paper_nonrel),
                round(train_seconds, 1),
            ]],
        },
    )
    atomic_write_json(
        Path(run_dir) / "tables" / "question_types.json",
        {
            "title": f"Sort-of-CLEVR test accuracy per question type ({model_name})",
            "columns": ["question type", "relational", "accuracy"],
            "rows": [
                [name, "yes" if t in RELATIONAL_TYPES else "no", pct(scores[f"eval/accuracy_{name.replace('-', '_')}"])]
                for t, name in enumerate(QUESTION_TYPES)
            ],
        },
    )


__all__ = ["PAPER", "pct", "write_tables"]
