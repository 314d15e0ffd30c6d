"""The attention benchmark's counted cost of the attention cores equals the closed-form count."""

from __future__ import annotations

import pytest
import torch

from dlfrontier.attention.bench import cc_vs_non_local_core, measure_core

CPU = torch.device("cpu")


def test_non_local_core_counts_the_full_attention_matrix() -> None:
    c, h = 16, 6
    n = h * h
    row = measure_core("non-local", c, h, device=CPU)
    assert row["gmacs"] * 1e9 == pytest.approx(2 * n * n * (c // 2))  # QK^T and AV
    assert row["saved_mb"] * 2**20 == n * n * 4  # the float32 softmax output, held once


@pytest.mark.parametrize(("row_name", "loops"), [("cc-r1", 1), ("cc-r2", 2)])
def test_criss_cross_core_counts_row_and_column_only(row_name: str, loops: int) -> None:
    c, h = 16, 6
    row = measure_core(row_name, c, h, device=CPU)
    per_loop_macs = h * h * (h + h) * (c // 8 + c)  # logits over H + W entries at C/8, weighted sum at C
    assert row["gmacs"] * 1e9 == pytest.approx(loops * per_loop_macs)
    # the float32 softmax over H + W entries and the bool H x H diagonal mask of the column branch
    assert row["saved_mb"] * 2**20 == loops * (h * h * (h + h) * 4 + h * h)


def test_core_ratio_and_unknown_module() -> None:
    cores = [measure_core(r, 64, 64, device=CPU) for r in ("non-local", "cc-r2")]
    (goal,) = cc_vs_non_local_core(cores)
    assert goal["memory_ratio"] == pytest.approx(2 * (4096 * 128 * 4 + 64 * 64) / (4096 * 4096 * 4))
    assert goal["memory_goal_met"] and goal["macs_goal_met"]
    with pytest.raises(ValueError, match="no attention core"):
        measure_core("se", 64, 8, device=CPU)
