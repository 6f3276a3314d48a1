"""ELA: the maths, the calibrated detector, applicability."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import item_by_path, jpeg_bytes, png_bytes

from forensics.api import decode_image as decode
from forensics.api import make_splice, roc_metrics
from forensics.engine import analyze_case
from forensics_plugins.ela.ela import FEATURES, block_means, ela_map, features, jpeg_roundtrip


def test_block_means_known_values():
    v = np.zeros((16, 24), dtype=np.float32)
    v[:8, 8:16] = 4.0
    b = block_means(v, 8)
    assert b.shape == (2, 3) and b[0, 1] == 4.0 and b.sum() == 4.0


def test_ela_of_image_resaved_at_same_quality_is_small(photo):
    once = decode(jpeg_bytes(photo, 90))
    assert ela_map(once, 90).mean() < ela_map(photo, 90).mean()
    assert jpeg_roundtrip(photo, 90).shape == photo.shape


def test_features_finite_and_ordered(photo):
    f, maps = features(decode(jpeg_bytes(photo, 85)))
    assert f.shape == (len(FEATURES),) and np.isfinite(f).all()
    assert maps["ratio"].shape == (photo.shape[0] // 8, photo.shape[1] // 8)


def test_splice_only_changes_the_pasted_box(photo):
    import skimage.data

    rng = np.random.default_rng(3)
    out, (y, x, h, w) = make_splice(photo, skimage.data.chelsea(), rng, q1=90, q2=60)
    diff = np.abs(out.astype(int) - photo.astype(int)).sum(axis=2)
    mask = np.zeros_like(diff, dtype=bool)
    mask[y:y + h, x:x + w] = True
    assert diff[~mask].max() == 0 and diff[mask].max() > 0


def test_ela_map_highlights_a_pasted_uncompressed_region(photo):
    """Textbook ELA (Krawetz): a JPEG re-saved at its own quality is nearly stable, a pasted
    never-compressed region is not, so its error level is clearly higher."""
    import skimage.data

    camera = decode(jpeg_bytes(photo, 90))
    spliced = camera.copy()
    spliced[80:176, 64:160] = skimage.data.chelsea()[100:196, 150:246]
    e = ela_map(decode(jpeg_bytes(spliced, 90)), 90, subsampling=2)
    inside = np.zeros(e.shape, dtype=bool)
    inside[80:176, 64:160] = True
    assert e[inside].mean() > 1.3 * e[~inside].mean()
    # with mismatched chroma subsampling the contrast collapses: why the detector reads it from the file
    e444 = ela_map(decode(jpeg_bytes(spliced, 90)), 90, subsampling=0)
    assert e444[inside].mean() / e444[~inside].mean() < e[inside].mean() / e[~inside].mean()


def test_roc_metrics_against_sklearn():
    from sklearn.metrics import roc_auc_score

    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array([0.1, 0.6, 0.7, 0.9, 0.2, 0.4])
    m = roc_metrics(y, p)
    assert m["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-4)
    assert m["confusion"] == {"tn": 2, "fp": 1, "fn": 1, "tp": 2}
    assert 0 <= m["eer"] <= 1


def test_ela_detector_on_jpeg_and_png(make_case, photo):
    root = make_case({"a.jpg": jpeg_bytes(photo, 85), "b.png": png_bytes(photo)})
    doc = analyze_case(root, detectors=["ela"]).document
    ela = item_by_path(doc, "a.jpg")["findings"][0]
    # unavailable only if models/ela was removed; inconclusive while its headline AUC interval includes 0.5
    assert ela["status"] in ("ran", "inconclusive", "unavailable")
    assert len(ela["artifacts"]) == 2 and all(a["file"] for a in ela["artifacts"])
    if ela["status"] == "ran":
        assert 0 <= ela["probability"] <= 1 and ela["error_rate"]["auc"] > 0.5
        assert ela["model"]["files"]["weights"]["sha256"]
    if ela["status"] == "inconclusive":
        assert ela["probability"] is None and "does not exclude chance" in ela["reason"]
        assert ela["model"]["files"]["weights"]["sha256"]
    png = item_by_path(doc, "b.png")["findings"][0]
    assert png["status"] == "not_applicable" and "PNG" in png["reason"]


def test_missing_model_makes_ela_unavailable_not_a_guess(make_case, photo, tmp_path, monkeypatch):
    import forensics.models as models

    monkeypatch.setattr(models, "builtin_models_dir", lambda: tmp_path / "no_models")
    root = make_case({"a.jpg": jpeg_bytes(photo)})
    f = item_by_path(analyze_case(root, detectors=["ela"]).document, "a.jpg")["findings"][0]
    assert f["status"] == "unavailable" and f["probability"] is None and "not installed" in f["reason"]
    assert f["artifacts"]  # the map is still shown


def test_altered_weights_are_refused(tmp_path, monkeypatch):
    import shutil

    import forensics.models as models

    src = models.builtin_models_dir() / "ela"
    dst = tmp_path / "m" / "ela"
    shutil.copytree(src, dst)
    (dst / "ela_calibrator.json").write_text((dst / "ela_calibrator.json").read_text().replace("0", "1", 1))
    monkeypatch.setenv("FORENSICS_MODELS_PATH", str(tmp_path / "m"))
    with pytest.raises(models.ModelUnavailable, match="refusing to use altered weights"):
        models.load_card("ela")


def test_ela_does_not_vote_when_its_interval_includes_chance(make_case, photo, tmp_path, monkeypatch):
    """The map is always shown; the score votes only when the card's headline AUC interval excludes 0.5."""
    import json
    import shutil

    import forensics.models as models

    dst = tmp_path / "m" / "ela"
    shutil.copytree(models.builtin_models_dir() / "ela", dst)
    card = json.loads((dst / "card.json").read_text(encoding="utf-8"))
    card["metrics"].update(auc=0.52, auc_ci95=[0.46, 0.58], dataset="harder test data")
    (dst / "card.json").write_text(json.dumps(card), encoding="utf-8")
    monkeypatch.setenv("FORENSICS_MODELS_PATH", str(tmp_path / "m"))
    root = make_case({"a.jpg": jpeg_bytes(photo, 85)})
    f = item_by_path(analyze_case(root, detectors=["ela"]).document, "a.jpg")["findings"][0]
    assert f["status"] == "inconclusive" and f["probability"] is None
    assert "does not exclude chance" in f["reason"] and "0.46" in f["reason"]
    assert len(f["artifacts"]) == 2
