"""VQA models: shape contracts, padding masks, batch of one, save/load, clear errors, the experiments' smoke run."""

from __future__ import annotations

import json

import pytest
import torch

from dlfrontier.attention.relation import feature_map_objects
from dlfrontier.data.sort_of_clevr import NUM_ANSWERS, VOCAB, make_sort_of_clevr, to_float
from dlfrontier.errors import UnknownNameError
from dlfrontier.experiments import EXPERIMENTS
from dlfrontier.experiments.runner import load_run, run_one
from dlfrontier.multimodal import MCAN, RelationNetwork, build_vqa_model, load_vqa_model
from dlfrontier.multimodal.relation_net import relate
from dlfrontier.multimodal.vqa_base import repeat_per_question
from tests.helpers import only_run

SMALL = {
    "cnn-mlp": {"hidden": 32},
    "relation-network": {"hidden": 16, "g_layers": 2},
    "updn": {"hidden": 16},
    "mcan": {"dim": 16, "heads": 2, "ffn": 32, "layers": 2},
}
DATA = make_sort_of_clevr(3, seed=0, nonrelational=2, relational=2)


def _inputs(model, data=DATA):
    return to_float(data.images), data.tokens if model.question_kind == "tokens" else data.vectors


@pytest.mark.parametrize("name", list(SMALL))
def test_shapes_backward_and_batch_of_one(name: str) -> None:
    torch.manual_seed(0)
    model = build_vqa_model(name, **SMALL[name])
    x, q = _inputs(model)
    logits, maps = model.answer_with_attention(x, q)
    assert logits.shape == (3, 4, NUM_ANSWERS)
    if name in ("updn", "mcan"):
        assert maps is not None and maps.shape == (3, 4, 5, 5) and bool(torch.isfinite(maps).all())
    else:
        assert maps is None
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    model.eval()
    with torch.no_grad():
        full = model(x, q)
        one = model(x[1:2], q[1:2])  # a batch of one image
        single = model(x[1:2], q[1:2, 0])  # one question per image: [B, D] or [B, L]
    assert one.shape == (1, 4, NUM_ANSWERS) and single.shape == (1, 1, NUM_ANSWERS)
    torch.testing.assert_close(one[0], full[1], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(single[0, 0], full[1, 0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", list(SMALL))
def test_save_load_round_trip(name: str, tmp_path) -> None:
    model = build_vqa_model(name, **SMALL[name]).eval()
    model.save(tmp_path / "m.pt")
    again = load_vqa_model(tmp_path / "m.pt").eval()
    assert type(again) is type(model) and again.kwargs == model.kwargs
    x, q = _inputs(model)
    with torch.no_grad():
        torch.testing.assert_close(again(x, q), model(x, q))


def test_mcan_never_attends_to_padding() -> None:
    torch.manual_seed(0)
    model = MCAN(**SMALL["mcan"]).eval()
    x, tokens = _inputs(model)
    pad = tokens == 0
    assert bool(pad.any())
    scrambled = tokens.masked_fill(pad, VOCAB.index("red"))  # real words where the padding was
    with torch.no_grad():
        ref, ref_maps = model.answer_with_attention(x, tokens)
        out, out_maps = model.answer_with_attention(x, scrambled, padding_mask=pad)
        changed = model(x, scrambled)  # no mask: the words now count
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(out_maps, ref_maps)
    assert not torch.allclose(changed, ref)


def test_relation_network_pair_sharing_equals_the_plain_module() -> None:
    torch.manual_seed(0)
    model = RelationNetwork(**SMALL["relation-network"]).eval()
    x, q = _inputs(model)
    with torch.no_grad():
        objects = feature_map_objects(model.cnn(x))  # [3, 25, 26]
        flat_q = q.reshape(12, -1)
        fast = relate(model.relation, objects, flat_q, 4)
        plain = model.relation(repeat_per_question(objects, 4), flat_q)  # every pair recomputed per question
    torch.testing.assert_close(fast, plain, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", list(SMALL))
def test_bad_inputs_are_clear_errors(name: str) -> None:
    model = build_vqa_model(name, **SMALL[name])
    x, q = _inputs(model)
    with pytest.raises(ValueError, match=r"\[B, 3, 75, 75\].*image_size="):
        model(torch.zeros(3, 3, 64, 64), q)
    with pytest.raises(ValueError, match="3 images but questions for 2"):
        model(x, q[:2])
    if model.question_kind == "tokens":
        with pytest.raises(ValueError, match="vocabulary.*VOCAB"):
            model(x, q + len(VOCAB))
        with pytest.raises(ValueError, match="not .vectors"):
            model(x, DATA.vectors)
    else:
        with pytest.raises(ValueError, match="11.*not .tokens"):
            model(x, DATA.tokens)
        with pytest.raises(ValueError, match="11"):
            model(x, torch.zeros(3, 4, 12))


def test_unknown_model_names_the_choices() -> None:
    with pytest.raises(UnknownNameError, match="cnn-mlp, mcan, relation-network, updn"):
        build_vqa_model("xyz")
    with pytest.raises(UnknownNameError, match="did you mean mcan"):
        build_vqa_model("mcna")


def test_every_model_has_an_experiment() -> None:
    names = {"vqa-cnn-mlp", "vqa-relation-network", "vqa-updn", "vqa-mcan"}
    assert names <= set(EXPERIMENTS.names())
    for n in ("vqa-relation-network", "vqa-mcan", "vqa-cnn-mlp"):
        for budget in ("quick", "full"):
            assert EXPERIMENTS.get(n).criterion(budget).metric == "eval/accuracy_relational"
    updn = EXPERIMENTS.get("vqa-updn")
    assert updn.anchor.metric == updn.criterion("quick").metric == "eval/accuracy_nonrelational"


def test_smoke_run_tables_and_eval_png(tmp_path, capsys) -> None:
    overrides = {"train_images": "16", "test_images": "8", "epochs": "1", "batch_images": "8", "dim": "16",
                 "heads": "2", "ffn": "32", "bn_images": "16", "bottom_up_steps": "3", "bottom_up_images": "16"}
    s = run_one("vqa-mcan", 0, out=tmp_path, overrides=overrides, tensorboard=False, device="cpu")
    assert s["status"] == "done"
    for key in ("eval/accuracy", "eval/accuracy_relational", "eval/accuracy_nonrelational", "eval/accuracy_count"):
        assert 0.0 <= s["metrics"][key] <= 1.0
    run_dir = only_run(tmp_path, "vqa-mcan")
    table = json.loads((run_dir / "tables" / "accuracy.json").read_text())
    assert table["columns"][:3] == ["model", "relational", "non-relational"] and table["rows"][0][0] == "mcan"
    # geometry (the default) reads the trained detector, which the checkpoint holds
    loaded = load_run(run_dir)
    saved = loaded.state["model"]
    assert saved["detector.weight"].shape == (11, 24, 1, 1) and "geometry.mlp.0.weight" in saved
    capsys.readouterr()
    png = EXPERIMENTS.get("vqa-mcan").evaluate(loaded, episodes=3, gif=None, device="cpu", out_dir=tmp_path / "ev")
    assert png.is_file() and png.stat().st_size > 1000
    assert png.parent == tmp_path / "ev" and not list(run_dir.glob("*.png"))  # nothing into the run folder
    assert f"test accuracy {s['metrics']['eval/accuracy']:.4f}" in capsys.readouterr().out


def test_resume_continues_from_the_checkpoint(tmp_path) -> None:
    from tests.helpers import InterruptAt

    overrides = {"train_images": "16", "test_images": "8", "epochs": "2", "batch_images": "8", "hidden": "16",
                 "bn_images": "16", "bottom_up_steps": "3", "bottom_up_images": "16"}
    full = run_one("vqa-cnn-mlp", 0, out=tmp_path / "a", overrides=overrides, tensorboard=False, device="cpu")
    with pytest.raises(KeyboardInterrupt):
        run_one("vqa-cnn-mlp", 0, out=tmp_path / "b", overrides=overrides, tensorboard=False, device="cpu",
                progress=InterruptAt(3))
    resumed = run_one("vqa-cnn-mlp", 0, out=tmp_path / "b", overrides=overrides, tensorboard=False, device="cpu",
                      resume=True)
    assert resumed["status"] == "done"
    assert resumed["metrics"]["eval/accuracy"] == full["metrics"]["eval/accuracy"]
    # the bottom-up CNN was pretrained once, before the interruption; the resumed run reports the same numbers
    key = "bottom_up/colour_accuracy"
    assert key in full["metrics"] and resumed["metrics"][key] == full["metrics"][key]


@pytest.mark.slow
def test_cnn_mlp_learns_nonrelational_questions() -> None:
    # Chance on non-relational questions is 50% (every type is a balanced yes/no); 300 steps of CNN+MLP
    # (about 20 s on one thread) must clearly beat it on held-out images.
    from dlfrontier.multimodal.training import calibrate, predict, score

    torch.manual_seed(0)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train, test = make_sort_of_clevr(3000, seed=0), make_sort_of_clevr(100, seed=99)
        model = build_vqa_model("cnn-mlp")
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        gen = torch.Generator().manual_seed(0)
        for _ in range(300):
            idx = torch.randint(0, len(train), (16,), generator=gen)
            logits = model(to_float(train.images[idx]), train.vectors[idx])
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), train.answers[idx].flatten())
            opt.zero_grad()
            loss.backward()
            opt.step()
        calibrate(model, train)
        s = score(predict(model, test), test)
    finally:
        torch.set_num_threads(before)
    assert s["eval/accuracy_nonrelational"] > 0.56, s


@pytest.mark.parametrize("name", sorted(SMALL))
def test_each_question_reads_only_its_own_image(name: str) -> None:
    # Guards the per-image question expansion (repeat vs repeat_interleave): changing image 1 must change the
    # answers to image 1's questions and leave those of images 0 and 2 exactly as they were.
    torch.manual_seed(0)
    model = build_vqa_model(name, **SMALL[name]).eval()
    images, questions = _inputs(model)
    with torch.no_grad():
        before = model(images, questions)
        changed = images.clone()
        changed[1] = changed[1].flip(-1)
        after = model(changed, questions)
    assert torch.equal(after[0], before[0]) and torch.equal(after[2], before[2])
    assert not torch.allclose(after[1], before[1])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_model_overfits_four_images(name: str) -> None:
    # 4 images x 20 questions, full batch: every model must reach 100% training accuracy (train-mode BN) well
    # within 400 Adam steps (measured: 100-300 steps, 3-4 s each on one thread). Misaligned questions and
    # answers, a wrong loss or a broken answer vocabulary would stall this.
    torch.manual_seed(0)
    data = make_sort_of_clevr(4, seed=0)
    model = build_vqa_model(name, **SMALL[name])
    images, questions = _inputs(model, data)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    acc = 0.0
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(400):
            logits = model(images, questions)
            acc = float((logits.argmax(-1) == data.answers).float().mean())
            if acc == 1.0:
                break
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), data.answers.flatten())
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(before)
    assert acc == 1.0


def test_relation_network_over_detected_objects_relates_only_them() -> None:
    from dlfrontier.multimodal.bottom_up import detected_objects

    torch.manual_seed(0)
    model = RelationNetwork(hidden=16, g_layers=2, objects=3).eval()
    assert model.detector is not None and model.kwargs["objects"] == 3
    x, q = _inputs(model)
    with torch.no_grad():
        features = model.cnn(x)
        objects = detected_objects(features, model.detector(features), 3)  # [3, 3, 26]
        flat_q = q.reshape(12, -1)
        want = model.relation(repeat_per_question(objects, 4), flat_q).view(3, 4, -1)
        torch.testing.assert_close(model(x, q), want, rtol=1e-4, atol=1e-4)
    model.freeze_cnn()
    model.train()
    model(x, q).sum().backward()
    assert all(p.grad is None for p in model.detector.parameters())  # the detector is frozen with the CNN
    with pytest.raises(ValueError, match="objects must be None"):
        RelationNetwork(objects=26)
    with pytest.raises(ValueError, match="objects must be None"):
        RelationNetwork(objects=0)
    assert RelationNetwork(hidden=16, g_layers=2).detector is None  # objects=None: every grid cell


def test_relation_network_on_objects_runs_saves_and_refuses_without_bottom_up(tmp_path, capsys) -> None:
    from dlfrontier.errors import ConfigError

    overrides = {"train_images": "16", "test_images": "8", "epochs": "1", "batch_images": "8", "hidden": "16",
                 "bn_images": "16", "bottom_up_steps": "3", "bottom_up_images": "16"}
    s = run_one("vqa-relation-network", 0, out=tmp_path, overrides=overrides, tensorboard=False, device="cpu")
    assert s["status"] == "done" and json.loads(
        (only_run(tmp_path, "vqa-relation-network") / "config.json").read_text())["config"]["objects"] == 6
    # the checkpoint holds the trained detector: evaluation rebuilds the model and scores the same accuracy
    loaded = load_run(only_run(tmp_path, "vqa-relation-network"))
    assert loaded.config.objects == 6 and loaded.state["model"]["detector.weight"].shape == (11, 24, 1, 1)
    capsys.readouterr()
    png = EXPERIMENTS.get("vqa-relation-network").evaluate(loaded, episodes=2, gif=None, device="cpu",
                                                           out_dir=tmp_path / "eval")
    assert png.is_file()
    assert f"test accuracy {s['metrics']['eval/accuracy']:.4f}" in capsys.readouterr().out
    exp = EXPERIMENTS.get("vqa-relation-network")
    with pytest.raises(ConfigError, match="bottom_up_steps > 0, or objects=none"):
        exp.make_config("quick", {"bottom_up_steps": "0"})
    every_cell = exp.make_config("quick", {"bottom_up_steps": "0", "objects": "none"})
    assert every_cell.objects is None and every_cell.model_kwargs()["objects"] is None


def test_geometry_bias_is_an_mlp_of_relative_positions() -> None:
    from dlfrontier.multimodal.mcan import GeometryBias

    torch.manual_seed(0)
    geo = GeometryBias(heads=3, hidden=8)
    p = torch.rand(2, 5, 2) * 2 - 1
    out = geo(p)
    assert out.shape == (2, 3, 5, 5)
    for b in range(2):  # naive reference, pair by pair
        for i in range(5):
            for j in range(5):
                d = p[b, j] - p[b, i]
                want = geo.mlp(torch.cat([d, d.norm().view(1)]))
                torch.testing.assert_close(out[b, :, i, j], want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(geo(p + torch.tensor([0.3, -0.2])), out, rtol=1e-4, atol=1e-5)  # translation-free
    # the ALiBi-style initialisation: the first head starts preferring near keys, the last far ones
    line = torch.tensor([[[0.0, 0.0], [0.0, 0.25], [0.0, 0.5], [0.0, 1.0]]])
    start = GeometryBias(heads=4)(line)[0, :, 0, 1:]  # [heads, 3]: query 0's logits for keys at 0.25, 0.5, 1.0
    assert bool((start[0].diff() < -1).all()) and bool((start[-1].diff() > 1).all()), start


def test_mcan_geometry_biases_the_image_self_attention() -> None:
    from dlfrontier.multimodal.bottom_up import cell_positions

    torch.manual_seed(0)
    model = MCAN(**SMALL["mcan"], geometry=True).eval()
    assert model.detector is not None and model.geometry is not None and model.kwargs["geometry"] is True
    x, q = _inputs(model)
    unit = model.decoder[0]
    with torch.no_grad():
        features = model.cnn(x)
        y = model.image_proj(feature_map_objects(features))
        positions = cell_positions(model.detector(features))  # [3, 25, 2]
        # a geometry term that forbids every other cell: each cell's SA can only read itself
        far = (positions.unsqueeze(1) - positions.unsqueeze(2)).norm(dim=-1) > 0  # [3, 25, 25]
        bias = torch.zeros(3, 2, 25, 25).masked_fill(far.unsqueeze(1), -1e9)
        att = unit.self_att
        torch.testing.assert_close(unit.self_part(y, bias), unit.norm1(y + att.out_proj(att.v_proj(y))))
        # a zero geometry term is the plain MCAN with the same weights
        torch.nn.init.zeros_(model.geometry.mlp[-1].weight)
        torch.nn.init.zeros_(model.geometry.mlp[-1].bias)
        plain = MCAN(**SMALL["mcan"]).eval()
        plain.load_state_dict({k: v for k, v in model.state_dict().items()
                               if not k.startswith(("geometry.", "detector."))})
        torch.testing.assert_close(model(x, q), plain(x, q))
        torch.nn.init.normal_(model.geometry.mlp[-1].weight)
        assert not torch.allclose(model(x, q), plain(x, q))


def test_mcan_geometry_round_trip_and_needs_the_detector(tmp_path) -> None:
    from dlfrontier.errors import ConfigError

    model = MCAN(**SMALL["mcan"], geometry=True).eval()
    model.save(tmp_path / "m.pt")
    again = load_vqa_model(tmp_path / "m.pt").eval()
    assert again.geometry is not None
    x, q = _inputs(model)
    with torch.no_grad():
        torch.testing.assert_close(again(x, q), model(x, q))
    with pytest.raises(ConfigError, match="bottom_up_steps > 0, or geometry=false"):
        EXPERIMENTS.get("vqa-mcan").make_config("quick", {"bottom_up_steps": "0"})
    assert EXPERIMENTS.get("vqa-mcan").make_config("quick", {"bottom_up_steps": "0", "geometry": "false"})


@pytest.mark.slow
def test_geometry_bias_lets_one_attention_step_read_the_nearest_neighbour() -> None:
    # 6 random points with random binary labels; each point must output the label of its nearest other point.
    # One SA layer on (position, label) tokens cannot rank keys by distance (q.k is bilinear, -|p_i - p_j|^2 is
    # not); with the geometry term it can. Measured at 1,000 steps: 95% with geometry (91% with slope=0), 77%
    # without (chance 50%).
    from dlfrontier.attention.mha import MultiHeadAttention
    from dlfrontier.multimodal.mcan import GeometryBias

    def batch(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        p = torch.rand(n, 6, 2, generator=gen) * 2 - 1
        label = torch.randint(0, 2, (n, 6), generator=gen)
        nearest = (torch.cdist(p, p) + 10 * torch.eye(6)).argmin(-1)
        return p, label, label.gather(1, nearest)

    class Probe(torch.nn.Module):
        def __init__(self, geometry: bool) -> None:
            super().__init__()
            self.inp = torch.nn.Linear(4, 32)
            self.att = MultiHeadAttention(32, num_heads=2)
            self.geometry = GeometryBias(2) if geometry else None
            self.out = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(32, 2))

        def forward(self, p: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
            x = self.inp(torch.cat([p, torch.nn.functional.one_hot(label, 2).float()], -1))
            return self.out(self.att(x, attn_mask=None if self.geometry is None else self.geometry(p)))

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    acc = {}
    try:
        for geometry in (True, False):
            torch.manual_seed(0)
            gen = torch.Generator().manual_seed(0)
            probe = Probe(geometry)
            opt = torch.optim.Adam(probe.parameters(), 3e-3)
            for _ in range(1000):
                p, label, y = batch(64, gen)
                loss = torch.nn.functional.cross_entropy(probe(p, label).flatten(0, 1), y.flatten())
                opt.zero_grad()
                loss.backward()
                opt.step()
            p, label, y = batch(1000, torch.Generator().manual_seed(1))
            with torch.no_grad():
                acc[geometry] = float((probe(p, label).argmax(-1) == y).float().mean())
    finally:
        torch.set_num_threads(before)
    assert acc[True] >= 0.88 and acc[True] >= acc[False] + 0.1, acc
