"""The compression experiments end to end on reduced budgets (train_subset): run folder extras, exact file
round trip, a real learning signal, criterion logic, and resume after an interrupt giving the same result."""

import json

import pytest
import torch

from dlfrontier.compression.fileformat import load_compressed
from dlfrontier.data.mnist import load_mnist
from dlfrontier.experiments.runner import run_one
from dlfrontier.models.classifier import evaluate_accuracy, to_float
from tests.helpers import InterruptAt, only_run

SMALL300 = {"train_subset": "3000", "epochs": "2", "prune_rounds": "2", "retrain_epochs": "1", "share_epochs": "1",
            "curve_bits": "2,5", "densities": "0.1,0.1,0.3"}


@pytest.mark.slow
def test_deep_compression_lenet300_small_budget(runs_dir):
    s = run_one("deep-compression-lenet300", 0, out=runs_dir, device="cpu", overrides=SMALL300, tensorboard=False)
    assert s["status"] == "done", s.get("error")
    m = s["metrics"]
    run = only_run(runs_dir, "deep-compression-lenet300")
    assert m["baseline/eval/accuracy"] > 0.85  # 3000 images, 2 epochs: far above chance (0.1)
    assert m["eval/accuracy"] > m["baseline/eval/accuracy"] - 0.02
    assert m["compress/roundtrip_exact"] == 1.0
    assert m["compress/ratio"] > 30 and m["compress/density"] == pytest.approx(0.1007, abs=1e-3)
    assert m["compress/ratio"] > m["compress/ratio_no_huffman"] > m["compress/ratio_pruning_only"] > 5
    assert m["compress/ratio_at_tol"] in (0.0, m["compress/ratio"])
    assert (m["compress/ratio_at_tol"] > 0) == (m["compress/accuracy_drop"] <= 0.003 + 1e-12)
    # the reported size is the file's, and the file alone reproduces the reported accuracy
    assert (run / "model.dlfc").stat().st_size == m["compress/file_bytes"]
    test = load_mnist("test")
    restored = load_compressed(run / "model.dlfc")
    x, y = to_float(test.images), test.labels
    assert evaluate_accuracy(restored, x, y) == m["eval/accuracy"]
    tables = {p.stem: json.loads(p.read_text()) for p in (run / "tables").glob("*.json")}
    assert set(tables) >= {"deep_compression", "layers", "stages"}
    dc = tables["deep_compression"]
    assert dc["columns"][:4] == ["Network", "Original Size", "Compressed Size", "Ratio"]
    assert dc["rows"][0][0] == "LeNet-300-100 (paper)" and len(dc["rows"]) == 2
    assert (run / "accuracy_vs_size.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_deep_compression_resume_matches_uninterrupted(tmp_path):
    small = {**SMALL300, "curve_bits": "3", "epochs": "1"}
    full = run_one("deep-compression-lenet300", 0, out=tmp_path / "a", device="cpu", overrides=small,
                   tensorboard=False)
    with pytest.raises(KeyboardInterrupt):  # inside the second pruning round
        run_one("deep-compression-lenet300", 0, out=tmp_path / "b", device="cpu", overrides=small,
                tensorboard=False, progress=InterruptAt(47 + 47 + 20))
    resumed = run_one("deep-compression-lenet300", 0, out=tmp_path / "b", device="cpu", overrides=small,
                      tensorboard=False, resume=True)
    assert resumed["status"] == "done"
    for key in ("eval/accuracy", "baseline/eval/accuracy", "compress/file_bytes", "compress/ratio_pruning_only"):
        assert resumed["metrics"][key] == full["metrics"][key], key


@pytest.mark.slow
def test_binary_lenet5_small_budget(runs_dir):
    s = run_one("binary-lenet5", 0, out=runs_dir, device="cpu", tensorboard=False,
                overrides={"train_subset": "2000", "test_subset": "2000", "epochs": "1", "binary_epochs": "1"})
    assert s["status"] == "done", s.get("error")
    m = s["metrics"]
    assert m["compress/roundtrip_exact"] == 1.0
    assert 28 < m["compress/ratio"] < 32  # 1 bit per weight + float32 scales and biases
    assert m["eval/accuracy"] > 0.6  # binary weights still learn (chance: 0.1)
    run = only_run(runs_dir, "binary-lenet5")
    w = load_compressed(run / "model.dlfc").conv2.weight
    assert all(len(torch.unique(w[i].abs())) == 1 for i in range(w.shape[0]))


@pytest.mark.slow
def test_int8_lenet5_small_budget(runs_dir):
    s = run_one("int8-lenet5", 0, out=runs_dir, device="cpu", tensorboard=False,
                overrides={"train_subset": "2000", "test_subset": "2000", "epochs": "1", "qat_epochs": "1",
                           "calibration_images": "500",
                           "latency_repeats": "2"})
    assert s["status"] == "done", s.get("error")
    m = s["metrics"]
    assert m["baseline/eval/accuracy"] > 0.8
    assert abs(m["int8/ptq_accuracy"] - m["baseline/eval/accuracy"]) < 0.02
    assert abs(m["int8/qat_accuracy"] - m["baseline/eval/accuracy"]) < 0.02
    assert 3.5 < m["compress/ratio"] < 4.0
    assert m["latency/int8_b256_ms"] > 0 and m["latency/fp32_b256_ms"] > 0
    assert json.loads((only_run(runs_dir, "int8-lenet5") / "tables" / "int8.json").read_text())["rows"]
