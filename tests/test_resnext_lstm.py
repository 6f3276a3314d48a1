"""ResNeXt-LSTM: shapes, Grad-CAM, weights round trip, windows, CUDA path, the detector end to end."""

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
def _install_tiny_model(root, seq_len=10):
    from forensics.models import write_card
    from forensics_plugins.resnext_lstm.train import WEIGHTS_FILE, save_weights

    torch.manual_seed(3)
    m = ResNeXtLSTM(hidden=8, backbone="tiny").eval()
    d = root / "resnext_lstm"
    d.mkdir(parents=True)
    save_weights(m, d / WEIGHTS_FILE)
    card = {"name": "resnext_lstm", "version": "test", "config": {**m.config(), "seq_len": seq_len},
            "calibration": {"a": 1.0, "b": 0.0, "method": "platt"},
            "files": {"weights": {"path": WEIGHTS_FILE}},
            "metrics": {"auc": 0.5, "eer": 0.5, "accuracy": 0.5, "threshold": 0.5, "n_test": 4, "dataset": "test"}}
    write_card(d, card, "# test model\n")
    return d


def test_detector_on_generated_face_video(tmp_path, monkeypatch):
    from forensics.demo import face_video_frames, write_mp4
    from forensics.engine import analyze_case

    models = tmp_path / "models"
    _install_tiny_model(models)
    monkeypatch.setenv("FORENSICS_MODELS_PATH", str(models))
    case = tmp_path / "case"
    case.mkdir()
    write_mp4(case / "clip.mp4", face_video_frames(24, 240), fps=12, codec="mpeg4")
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
    assert f["error_rate"]["auc"] == 0.5


def test_detector_unavailable_without_model_and_not_applicable_without_face(tmp_path, monkeypatch):
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
    det = ResNeXtLSTMDetector()
    from forensics.datasets import open_media

    item, media = open_media(case / "blank.mp4")
    out = det.analyze(item, media)
    assert out.status.value == "unavailable" and "SHA-256" in out.reason
    json.dumps(out.to_json())
