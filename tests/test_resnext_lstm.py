"""ResNeXt-LSTM: shapes, Grad-CAM, weights round trip, windows, CUDA path, the voting gate, the self-blend
stage, the detector end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from forensics_plugins.resnext_lstm.data import take_window, window_starts  # noqa: E402
from forensics_plugins.resnext_lstm.model import (  # noqa: E402
    SEQUENCE_LENGTHS,
    ResNeXtLSTM,
    count_parameters,
    grad_cam,
    normalise,
)


@pytest.fixture(scope="module")
def resnext():
    torch.manual_seed(0)
    return ResNeXtLSTM(hidden=32).eval()


@pytest.mark.slow
@pytest.mark.parametrize("seq_len", [10, 20, 40])
def test_real_backbone_forward_shapes(resnext, seq_len):
    """The real ResNeXt-50 (random init) on a tiny 32×32 input: a 1×1 map of 2048 channels per frame."""
    x = torch.randn(2, seq_len, 3, 32, 32)
    with torch.inference_mode():
        fmap, logits = resnext(x)
    assert fmap.shape == (2 * seq_len, 2048, 1, 1)
    assert logits.shape == (2, 2)
    p = torch.softmax(logits, 1)
    assert torch.allclose(p.sum(1), torch.ones(2))


@pytest.mark.slow
def test_backbone_is_resnext50_and_lstm_width_sets_the_size(resnext):
    counts = count_parameters(resnext)
    assert counts["backbone"] == 22_979_904  # torchvision resnext50_32x4d without its fc layer
    assert counts["lstm"] == 4 * (2048 * 32 + 32 * 32 + 2 * 32)
    assert resnext.config()["input_size"] == 112 and SEQUENCE_LENGTHS == (10, 20, 40, 60, 80, 100)


def test_grad_cam_on_112_input_is_4x4_and_normalised():
    torch.manual_seed(1)
    m = ResNeXtLSTM(hidden=8, backbone="tiny").eval()
    x = torch.randn(1, 5, 3, 112, 112)
    with torch.inference_mode():
        fmap, _ = m(x)
    cam = grad_cam(m, fmap.clone(), 1, 5)
    assert cam.shape == (5, 28, 28)
    assert float(cam.min()) >= 0 and float(cam.max()) <= 1.0 + 1e-6


def test_normalise_imagenet():
    x = torch.full((2, 4, 4, 3), 255, dtype=torch.uint8)
    y = normalise(x)
    assert y.shape == (2, 3, 4, 4)
    assert torch.allclose(y[0, :, 0, 0], torch.tensor([(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225]))


def test_windows():
    assert window_starts(100, 20, 3) == [0, 40, 80]
    assert window_starts(20, 20, 3) == [0]
    assert window_starts(21, 20, 3) == [0, 1]
    crops = np.arange(5)[:, None, None, None] * np.ones((5, 2, 2, 3), np.uint8)
    w = take_window(crops, 3, 4)
    assert [int(v) for v in w[:, 0, 0, 0]] == [3, 4, 4, 4]


def test_fp16_safetensors_round_trip(tmp_path):
    from forensics_plugins.resnext_lstm.train import load_weights, save_weights

    torch.manual_seed(2)
    m = ResNeXtLSTM(hidden=8, backbone="tiny").eval()
    save_weights(m, tmp_path / "w.safetensors")
    m2 = load_weights(tmp_path / "w.safetensors", m.config())
    x = torch.randn(1, 10, 3, 32, 32)
    with torch.inference_mode():
        a, b = m(x)[1], m2(x)[1]
    assert torch.allclose(a, b, atol=1e-2)


def test_pick_device_cpu_and_refuses_missing_cuda():
    from forensics_plugins.resnext_lstm.model import pick_device

    assert pick_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert pick_device("auto").type == "cpu"
        with pytest.raises(RuntimeError):
            pick_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_mixed_precision_forward():  # pragma: no cover - runs only with a GPU
    from forensics_plugins.resnext_lstm.train import score_windows

    m = ResNeXtLSTM(hidden=32).cuda().eval()
    probs, cams = score_windows(m, [np.zeros((10, 112, 112, 3), np.uint8)], torch.device("cuda"), amp=True,
                                with_cam=True)
    assert probs.shape == (1,) and cams[0].shape == (10, 4, 4)


# ------------------------------------------------------------------------------ detector
USEFUL = {"auc": 0.9, "auc_ci95": [0.8, 0.97], "eer": 0.1, "accuracy": 0.9, "threshold": 0.5, "n_test": 40,
          "n_test_positive": 20, "n_test_negative": 20, "dataset": "test", "kind": "cross-source"}
NOT_USEFUL = {"auc": 0.667, "auc_ci95": [0.25, 1.0], "eer": 0.5, "accuracy": 0.73, "threshold": 0.5, "n_test": 11,
              "n_test_positive": 8, "n_test_negative": 3, "dataset": "test", "kind": "in-source"}


def _install_tiny_model(root, seq_len=10, metrics=None):
    from forensics.api import write_model_card
    from forensics_plugins.resnext_lstm.train import WEIGHTS_FILE, save_weights

    torch.manual_seed(3)
    m = ResNeXtLSTM(hidden=8, backbone="tiny").eval()
    d = root / "resnext_lstm"
    d.mkdir(parents=True)
    save_weights(m, d / WEIGHTS_FILE)
    card = {"name": "resnext_lstm", "version": "test", "config": {**m.config(), "seq_len": seq_len},
            "calibration": {"a": 1.0, "b": 0.0, "method": "platt"},
            "files": {"weights": {"path": WEIGHTS_FILE}}, "metrics": dict(USEFUL if metrics is None else metrics)}
    write_model_card(d, card)
    return d


def _clip(case, name="clip.mp4", frames=24):
    from forensics.demo import face_video_frames, write_mp4

    case.mkdir(exist_ok=True)
    write_mp4(case / name, face_video_frames(frames, 240), fps=12, codec="mpeg4")
    return case / name


@pytest.mark.slow
def test_detector_on_generated_face_video(tmp_path, monkeypatch):
    from forensics.engine import analyze_case

    models = tmp_path / "models"
    _install_tiny_model(models)
    monkeypatch.setenv("FORENSICS_MODELS_PATH", str(models))
    case = tmp_path / "case"
    _clip(case)
    (case / "still.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
    res = analyze_case(case, detectors=["resnext_lstm"])
    items = {it["path"]: it for it in res.document["items"]}
    f = items["clip.mp4"]["findings"][0]
    assert f["status"] == "ran", f["reason"]
    assert 0 <= f["probability"] <= 1
    assert f["details"]["device"] == ("cpu" if not torch.cuda.is_available() else f["details"]["device"])
    assert f["details"]["sequence_length"] == 10 and len(f["details"]["windows"]) >= 2
    assert f["artifacts"] and f["artifacts"][0]["title"].startswith("ResNeXt-LSTM heat map")
    assert any(name.endswith("gradcam.png") for name in res.artifacts)
    assert f["error_rate"]["auc"] == 0.9


@pytest.mark.parametrize("metrics, words", [
    (NOT_USEFUL, "interval includes 0.5"),
    ({**NOT_USEFUL, "auc_ci95": None}, "interval is unknown"),
    ({**NOT_USEFUL, "auc": 0.3, "auc_ci95": [0.1, 0.45]}, "below chance"),
    ({}, "no measured AUC"),
    ({**USEFUL, "kind": "in-source"}, "not a cross-source figure"),
])
def test_not_useful_model_is_unavailable_without_face_crops_or_weights(tmp_path, monkeypatch, metrics, words):
    """The gate is decided from card.json alone: no face analysis, no weight load, no hashing, well under 1 s."""
    import time

    import forensics.api
    import forensics_plugins.resnext_lstm as plugin
    from forensics.api import open_media

    models = tmp_path / "models"
    _install_tiny_model(models, metrics=metrics)
    monkeypatch.setenv("FORENSICS_MODELS_PATH", str(models))

    def boom(*a, **k):
        raise AssertionError("must not be called for a model that may not vote")

    monkeypatch.setattr(forensics.api, "face_analysis", boom)
    monkeypatch.setattr(forensics.api, "load_card", boom)
    monkeypatch.setattr(plugin, "_load", boom)
    media = open_media(_clip(tmp_path / "case", frames=4))
    t0 = time.perf_counter()
    f = plugin.ResNeXtLSTMDetector().analyze(media.item, media)
    assert time.perf_counter() - t0 < 1.0
    assert f.status.value == "unavailable" and f.probability is None
    assert f.reason.startswith("not trained to a useful level") and words in f.reason
    if metrics.get("auc") is not None:
        assert f"AUC {metrics['auc']:.3f}" in f.reason and f.details["measured"]["auc"] == metrics["auc"]
    json.dumps(f.to_json())


def test_shipped_card_states_its_interval_and_the_gate_follows_it():
    from forensics.api import model_card_data, useful_level
    from forensics_plugins.resnext_lstm import ResNeXtLSTMDetector

    data = model_card_data("resnext_lstm")
    if data is None:
        pytest.skip("no resnext_lstm model installed")
    m = data["metrics"]
    assert "auc_ci95" in m and m.get("kind")
    ok, figure = useful_level(m, "held-out videos", require="cross")
    gate = ResNeXtLSTMDetector().not_useful_reason()
    assert (gate is None) == ok
    if gate is not None:
        assert figure in gate[0]


def test_detector_unavailable_without_model_and_not_applicable_without_face(tmp_path, monkeypatch):
    from forensics.api import open_media
    from forensics.demo import write_mp4
    from forensics.engine import analyze_case
    from forensics_plugins.resnext_lstm import ResNeXtLSTMDetector

    case = tmp_path / "case"
    case.mkdir()
    write_mp4(case / "blank.mp4", (np.full((96, 128, 3), 90, np.uint8) for _ in range(6)), fps=6, codec="mpeg4")
    models = tmp_path / "models"
    _install_tiny_model(models)
    monkeypatch.setenv("FORENSICS_MODELS_PATH", str(models))
    f = analyze_case(case, detectors=["resnext_lstm"]).document["items"][0]["findings"][0]
    assert f["status"] == "not_applicable" and "No faces detected" in f["reason"]
    # tamper with the weights: the hash check refuses them
    w = models / "resnext_lstm" / "resnext_lstm.safetensors"
    w.write_bytes(w.read_bytes()[:-4] + b"\x00\x00\x00\x01")
    media = open_media(case / "blank.mp4")
    from forensics.models import ModelUnavailable

    with pytest.raises(ModelUnavailable, match="SHA-256"):
        ResNeXtLSTMDetector().analyze(media.item, media)


# ------------------------------------------------------------------------------ self-blended sequences
def _synthetic_clip(seed, n=12, size=112):
    """A textured 'face' (ellipse) on a background, drifting slowly; landmarks on the ellipse."""
    import cv2

    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, (size, size, 3)).astype(np.uint8)
    base = cv2.GaussianBlur(base, (0, 0), 3)
    frames, lms = [], []
    for i in range(n):
        f = base.copy()
        k = size / 112
        cx, cy = size / 2 + 2 * k * np.sin(i / 4), size / 2 + 8 * k
        cv2.ellipse(f, (int(cx), int(cy)), (int(30 * k), int(38 * k)), 0, 0, 360, (190, 150, 130), -1)
        ang = np.linspace(0, 2 * np.pi, 68, endpoint=False)
        lms.append(np.stack([cx + 28 * k * np.cos(ang), cy + 36 * k * np.sin(ang)], 1).astype(np.float32))
        frames.append(f)
    return np.stack(frames), np.stack(lms)


def test_self_blend_sequence_properties():
    from forensics_plugins.resnext_lstm.selfblend import blend_sequence, hull_mask

    crops, lms = _synthetic_clip(0)
    out, mask, params = blend_sequence(crops, lms, np.random.default_rng(7))
    out2, mask2, _ = blend_sequence(crops, lms, np.random.default_rng(7))
    assert np.array_equal(out, out2) and np.array_equal(mask, mask2)  # deterministic for a seed
    hull = hull_mask(lms.mean(axis=0), crops.shape[1:3])
    assert mask.max() > 0 and np.all(mask[hull == 0] == 0)  # one mask, inside the mean landmark hull
    assert mask.max() <= params["ratio"] + 1e-6 and 0.25 <= params["ratio"] <= 1.0
    diff = np.abs(out.astype(int) - crops.astype(int)).max(axis=-1)  # (T, H, W)
    assert np.all(diff[:, mask == 0] == 0)  # pixels outside the mask are untouched, in every frame
    assert diff[:, mask > 0.5].mean() > 0  # and inside it they change
    # temporally consistent: the blend residual changes little from frame to frame
    res = out.astype(np.float32) - crops.astype(np.float32)
    step = np.abs(np.diff(res, axis=0)).mean()
    assert step < 0.5 * np.abs(res).mean() + 1.0
    out3, _, _ = blend_sequence(crops, lms, np.random.default_rng(8))
    assert not np.array_equal(out, out3)


def test_self_blend_batch_pairs_untouched_and_blended_windows():
    from forensics_plugins.resnext_lstm.selfblend import self_blend_batch

    clips = [_synthetic_clip(s) for s in range(3)]
    seqs, labels = self_blend_batch(clips, 10, np.random.default_rng(0))
    assert seqs.shape == (6, 10, 112, 112, 3) and labels.tolist() == [0, 1, 0, 1, 0, 1]
    for k in range(3):
        d = np.abs(seqs[2 * k].astype(int) - seqs[2 * k + 1].astype(int))
        assert d.sum() > 0
        assert (d.max(axis=(0, -1)) == 0).mean() > 0.3  # the background (outside the face) is identical


def test_self_blend_stage_trains_tiny_model_and_resumes(tmp_path):
    """A few seconds on CPU: the self-supervised stage runs, checkpoints, and a resume reproduces it."""
    from forensics_plugins.resnext_lstm.train import TrainConfig, self_blend_stage

    clips = [_synthetic_clip(s, n=10, size=56) for s in range(2)]
    cfg = TrainConfig(seq_len=10, batch_size=2, lr=3e-3, hidden=8, backbone="tiny", amp=False, seed=0,
                      self_blend_epochs=2)

    def run(ckpt, epochs):
        torch.manual_seed(0)
        m = ResNeXtLSTM(hidden=8, backbone="tiny")
        opt = torch.optim.Adam(m.parameters(), lr=cfg.lr)
        c = TrainConfig(**{**cfg.__dict__, "self_blend_epochs": epochs})
        return m, self_blend_stage(m, opt, clips, c, torch.device("cpu"), ckpt, echo=lambda s: None)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: extra threads only spin on a shared CI machine
    try:
        _check_resume(run, clips, tmp_path)
    finally:
        torch.set_num_threads(threads)


def _check_resume(run, clips, tmp_path):
    from forensics_plugins.resnext_lstm.train import score_windows

    m1, h1 = run(tmp_path / "a.pt", 2)
    assert [h["epoch"] for h in h1] == [1, 2] and all(np.isfinite(h["loss"]) for h in h1)
    assert (tmp_path / "a.pt").is_file()
    _, h_half = run(tmp_path / "b.pt", 1)
    m2, h2 = run(tmp_path / "b.pt", 2)  # resumes after epoch 1
    assert [h["loss"] for h in h2] == pytest.approx([h["loss"] for h in h1], abs=1e-4)
    m1.eval()
    m2.eval()
    w = [clips[0][0][:10]]
    assert score_windows(m1, w, torch.device("cpu"))[0] == pytest.approx(score_windows(m2, w, torch.device("cpu"))[0],
                                                                         abs=1e-4)
