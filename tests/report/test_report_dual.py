"""The report's dual-learning extras: per-direction BLEU over seeds and the games' learning curves (issue 21)."""

import json

import numpy as np
import pytest

from dlfrontier.report import write_report
from dlfrontier.report.collect import group_runs, scan_runs
from dlfrontier.report.dual import REFERENCES, bleu_table, curves_png, extras
from dlfrontier.stats import bootstrap_ci

BLEU = {0: (10.4, 12.6, 2.4, 2.7), 1: (10.2, 13.0, 2.9, 2.8), 2: (10.0, 13.2, 2.1, 2.6)}


def _run(root, name, seed, metrics, group="dual", curves=None):
    folder = root / name / f"{seed}-20261204T000000Z"
    folder.mkdir(parents=True)
    summary = {"experiment": name, "seed": seed, "budget": "quick", "status": "done", "metrics": metrics,
               "expect": {"metric": "eval/bleu_mean", "op": ">=", "threshold": 1.0}, "group": group,
               "curve": "val/bleu_mean", "anchor": {}}
    (folder / "summary.json").write_text(json.dumps(summary))
    lines = ["step,key,value"] + [f"{s},{k},{v}" for k, pts in (curves or {}).items() for s, v in pts]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    return folder


def _dual_runs(root, games=True):
    for seed, (en_es, es_en, g1, g2) in BLEU.items():
        metrics = {"eval/bleu_en_es": en_es, "eval/bleu_es_en": es_en, "eval/bleu_mean": (en_es + es_en) / 2,
                   "eval/gain_en_es": g1, "eval/gain_es_en": g2, "eval/min_gain": min(g1, g2)}
        logged = {"val/bleu_en_es": [(0, 4.0 + seed), (100, 6.0)], "val/bleu_es_en": [(0, 5.0), (100, 8.0)]}
        if games:
            logged |= {k: [(20, -3.0 - seed), (40, -2.5)] for k in ("dual/reward_en", "dual/lm_en", "dual/recon_en",
                                                                     "dual/lm_es", "dual/recon_es")}
        _run(root, "dual-learning-en-es" if games else "backtranslation-en-es", seed, metrics, curves=logged)


def _result(root, name):
    return next(r for r in group_runs(scan_runs(root).runs) if r.experiment == name)


def test_bleu_table_is_the_mean_and_ci_of_each_direction_over_seeds(tmp_path):
    _dual_runs(tmp_path)
    table = bleu_table(_result(tmp_path, "dual-learning-en-es"))
    assert table["columns"][2] == "seeds 0 / 1 / 2"
    rows = {r[0]: r for r in table["rows"]}
    en_es = [v[0] for v in BLEU.values()]
    lo, hi = bootstrap_ci(en_es, stat=np.mean)
    assert rows["en->es"][1] == f"{np.mean(en_es):.2f} [{lo:.2f}, {hi:.2f}]"
    assert rows["en->es"][2] == "10.40 / 10.20 / 10.00"
    gains = [v[3] for v in BLEU.values()]
    lo, hi = bootstrap_ci(gains, stat=np.mean)
    assert rows["es->en"][3] == f"{np.mean(gains):+.2f} [{lo:+.2f}, {hi:+.2f}]"
    assert rows["es->en"][4] == "9.90 / 10.20 / 10.60"  # the warm start: BLEU minus the gain, per seed
    mean = [(a + b) / 2 for a, b, _, _ in BLEU.values()]
    assert rows["mean of the two"][2] == " / ".join(f"{v:.2f}" for v in mean)


def test_a_result_without_gains_or_another_group_gets_no_gain_columns_or_nothing(tmp_path):
    _run(tmp_path, "nmt-en-es-10pct", 0, {"eval/bleu_en_es": 8.0, "eval/bleu_es_en": 9.9, "eval/bleu_mean": 8.95})
    _run(tmp_path, "ppo-cartpole", 0, {"eval/bleu_mean": 1.0}, group="rl")
    table = bleu_table(_result(tmp_path, "nmt-en-es-10pct"))
    assert len(table["columns"]) == 3 and table["rows"][2][1] == "8.95 [8.95, 8.95]"
    assert extras(_result(tmp_path, "ppo-cartpole")) == ([], {})
    tables, plots = extras(_result(tmp_path, "nmt-en-es-10pct"))
    assert len(tables) == 1 and plots == {}  # no curves logged, no references (no dual games)


def test_references_and_curves_only_where_the_games_ran(tmp_path):
    _dual_runs(tmp_path / "a", games=True)
    _dual_runs(tmp_path / "b", games=False)
    tables, plots = extras(_result(tmp_path / "a", "dual-learning-en-es"))
    assert tables[-1] is REFERENCES and plots["curves"].startswith(b"\x89PNG")
    tables, plots = extras(_result(tmp_path / "b", "backtranslation-en-es"))
    assert REFERENCES not in tables and plots["curves"].startswith(b"\x89PNG")  # validation BLEU only


def test_curves_png_is_none_without_any_logged_metric(tmp_path):
    _run(tmp_path, "nmt-en-es-10pct", 0, {"eval/bleu_mean": 8.0})
    assert curves_png(_result(tmp_path, "nmt-en-es-10pct")) is None


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_the_report_shows_the_table_and_the_curves_in_the_results_section(tmp_path, fmt):
    _dual_runs(tmp_path / "runs")
    html, md, _ = write_report(tmp_path / "runs", tmp_path / "r.html", tmp_path / "r.md")
    text = (md if fmt == "md" else html).read_text()
    assert "dual-learning-en-es: test BLEU per direction" in text and "10.40 / 10.20 / 10.00" in text
    assert "WMT16 En-&gt;De" in text if fmt == "html" else "WMT16 En->De" in text
    if fmt == "md":
        assert "(r_plots/dual-learning-en-es-quick-curves.png)" in text
        assert (tmp_path / "r_plots" / "dual-learning-en-es-quick-curves.png").is_file()
