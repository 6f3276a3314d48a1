"""JPEG double compression: tables and coefficients, aligned DQ, block grid, ghosts, the detector's gates."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import jpeg_bytes, png_bytes

from forensics.api import decode_image, open_media, write_model_card
from forensics_plugins.jpeg_dq import JpegDQDetector, dq, first_quality
from forensics_plugins.jpeg_dq.train import NO_DQ


@pytest.fixture(scope="module")
def host():
    import skimage.data

    return skimage.data.chelsea()[:288, :384].copy()


@pytest.fixture(scope="module")
def donor():
    import skimage.data

    return skimage.data.coffee()[:288, :384].copy()


def test_tables_and_coefficients_match_the_encoder(host):
    data = jpeg_bytes(host, 75)
    jc = dq.read_coefficients(data)
    assert np.array_equal(jc.qt_luma.reshape(-1), dq.scaled_standard_table(75))
    assert dq.standard_quality(jc.qt_luma) == 75
    assert jc.y.shape[:2] == (36, 48) and not jc.progressive
    # our unrounded reconstruction agrees with libjpeg's decoded luminance to within rounding
    rgb = decode_image(data).astype(np.float64)
    y = rgb @ np.array([0.299, 0.587, 0.114])
    assert np.abs(dq.decoded_luma(jc) - y).mean() < 1.5


def test_unreadable_jpeg_is_a_clear_error():
    with pytest.raises(ValueError, match="could not be read"):
        dq.read_coefficients(b"\xff\xd8\xff\xe0" + b"garbage" * 20)


def test_truncated_jpeg_is_refused_before_libjpeg_pads_it(host, capfd):
    import io
    import struct

    from PIL import Image

    data = jpeg_bytes(host, 85)
    assert not dq.truncated_jpeg(data)
    buf = io.BytesIO()
    Image.fromarray(host).save(buf, format="JPEG", quality=85, progressive=True)
    prog = buf.getvalue()  # many scans
    assert not dq.truncated_jpeg(prog) and dq.read_coefficients(prog).progressive
    thumb = jpeg_bytes(host[::8, ::8].copy(), 80)  # an EXIF-style thumbnail (its own SOS and EOI) before the image
    app1 = b"\xff\xe1" + struct.pack(">H", len(thumb) + 8) + b"Exif\0\0" + thumb
    with_thumb = data[:2] + app1 + data[2:]
    assert not dq.truncated_jpeg(with_thumb)
    capfd.readouterr()
    for cut in (data[: len(data) // 2], prog[: len(prog) - 40], with_thumb[: len(with_thumb) - 500]):
        assert dq.truncated_jpeg(cut)
        with pytest.raises(ValueError, match="truncated"):
            dq.read_coefficients(cut)
    assert "Premature end" not in capfd.readouterr().err  # nothing from libjpeg on the terminal


def test_aligned_dq_found_only_in_doubly_compressed_files(host):
    single = dq.aligned_dq(dq.read_coefficients(jpeg_bytes(host, 90)))
    double = dq.aligned_dq(dq.read_coefficients(jpeg_bytes(decode_image(jpeg_bytes(host, 70)), 90)))
    assert single.used <= 1
    assert double.used >= 10
    # the first quantisation step is recovered: the standard q70 table at zig-zag 1 is 7 (q2 at q90 is 2)
    f1 = double.frequencies[0]
    assert f1["q2"] == 2 and f1["q1"] == int(dq.scaled_standard_table(70)[dq.ZIGZAG[1]])
    assert first_quality(double.frequencies) in range(66, 75)


def _mask_f1(pred: np.ndarray, truth: np.ndarray) -> float:
    tp = (pred & truth).sum()
    return 2 * tp / max(pred.sum() + truth.sum(), 1)


def test_dq_map_localises_a_splice_without_the_hosts_first_compression(host, donor):
    camera = decode_image(jpeg_bytes(host, 70))
    fake = camera.copy()
    fake[96:200, 120:264] = donor[50:154, 60:204]  # never compressed at q70
    data = jpeg_bytes(fake, 92)
    d = dq.aligned_dq(dq.read_coefficients(data))
    p = dq.tamper_probability_map(d.block_llr)
    truth = np.zeros(p.shape, dtype=bool)
    truth[12:25, 15:33] = True
    assert p[truth].mean() > 0.7 and p[~truth].mean() < 0.2
    assert _mask_f1(p > 0.5, truth) > 0.6


def test_block_grid_ignores_a_pasted_region_without_a_grid(host, donor):
    """A hard-edged paste of never-compressed content has straight edges off the grid but no block grid."""
    fake = host.copy()
    fake[99:219, 133:253] = donor[:120, :120]
    g = dq.grid_inconsistency(dq.decoded_luma(dq.read_coefficients(jpeg_bytes(fake, 95))))
    a = dq.grid_inconsistency(dq.decoded_luma(dq.read_coefficients(jpeg_bytes(host, 95))))
    assert np.percentile(g["strength"], 99) < 1.5 * np.percentile(a["strength"], 99)


def test_block_grid_of_a_pasted_jpeg_region_stands_out(host, donor):
    piece = decode_image(jpeg_bytes(donor, 50))[:120, :120]
    fake = host.copy()
    fake[99:219, 133:253] = piece  # its grid lands at offsets (3, 5) of the image grid
    g = dq.grid_inconsistency(dq.decoded_luma(dq.read_coefficients(jpeg_bytes(fake, 95))))
    ys, xs = g["grid"]
    inside = np.array([[(99 <= y0 and y0 + 32 <= 219) and (133 <= x0 and x0 + 32 <= 253) for x0 in xs] for y0 in ys])
    outside = np.array([[(y0 + 32 <= 99 or y0 >= 219) or (x0 + 32 <= 133 or x0 >= 253) for x0 in xs] for y0 in ys])
    assert np.median(g["strength"][inside]) > 2 * np.median(g["strength"][outside])
    offs = g["offset"][inside]
    assert (np.mean(offs[:, 0] == 3) > 0.5) and (np.mean(offs[:, 1] == 5) > 0.5)


def test_jpeg_ghost_at_the_regions_first_quality(host, donor):
    low = decode_image(jpeg_bytes(donor, 60))
    fake = decode_image(jpeg_bytes(host, 95)).copy()
    fake[96:208, 128:256] = low[96:208, 128:256]  # grid-aligned region once saved at q60
    rgb = decode_image(jpeg_bytes(fake, 90))
    gm, q = dq.ghost_map(dq.jpeg_ghosts(rgb), below=90)
    truth = np.zeros(gm.shape, dtype=bool)
    truth[6:13, 8:16] = True
    assert q in (55, 60, 65)
    assert gm[truth].mean() > 2 * gm[~truth].mean() + 0.1


def test_features_are_finite_and_deterministic(host, donor):
    data = jpeg_bytes(host, 85)
    jc = dq.read_coefficients(data)
    a, _ = dq.analyse(jc, decode_image(data), 85)
    b, _ = dq.analyse(jc, decode_image(data), 85)
    assert a.shape == (len(dq.FEATURES),) and np.isfinite(a).all() and np.array_equal(a, b)


def _model_dir(tmp_path, ci, no_dq_ci=None):
    """A tiny fitted model + card with a stated headline AUC interval (the detector's voting gate)."""
    from forensics_plugins.jpeg_dq.train import PIXEL_FEATURES, fit

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, len(dq.FEATURES)))
    y = (X[:, 1] > 0).astype(int)
    d = tmp_path / "models" / "jpeg_dq"
    d.mkdir(parents=True)
    (d / "jpeg_dq_model.json").write_text(json.dumps(fit(X, y)), encoding="utf-8")
    Xp = rng.normal(size=(40, len(PIXEL_FEATURES)))
    (d / "jpeg_dq_pixel_model.json").write_text(json.dumps(fit(Xp, (Xp[:, 1] > 0).astype(int), PIXEL_FEATURES)),
                                                encoding="utf-8")
    write_model_card(d, {"name": "jpeg_dq", "version": "1.0.0", "files": {"weights": {"path": "jpeg_dq_model.json"},
                                                                          "pixel_weights": {"path": "jpeg_dq_pixel_model.json"}},
                         "metrics": {"auc": 0.7, "auc_ci95": ci, "eer": 0.3, "dataset": "test data"},
                         "evaluations": {NO_DQ: {"auc": 0.5, "auc_ci95": no_dq_ci, "dataset": "no-DQ files"}}
                         if no_dq_ci else {}})
    return d.parent


@pytest.mark.parametrize("ci,status", [([0.45, 0.8], "inconclusive"), ([0.6, 0.8], "ran")])
def test_detector_votes_only_when_its_interval_excludes_chance(host, tmp_path, monkeypatch, ci, status):
    monkeypatch.setenv("FORENSICS_MODELS_PATH", str(_model_dir(tmp_path, ci)))
    p = tmp_path / "a.jpg"
    p.write_bytes(jpeg_bytes(decode_image(jpeg_bytes(host, 70)), 90))
    media = open_media(p)
    f = JpegDQDetector().analyze(media.item, media)
    assert f.status.value == status
    assert {a.slug for a in f.artifacts} >= {"dq-map", "grid-map"}
    assert f.details["aligned_dq"]["doubly_compressed"] is True
    assert (f.probability is None) == (status != "ran")
    if status == "inconclusive":
        assert "does not exclude chance" in f.reason


def test_png_without_jpeg_history_is_not_applicable_and_garbage_inconclusive(host, tmp_path):
    p = tmp_path / "a.png"
    p.write_bytes(png_bytes(host))  # never JPEG-compressed
    media = open_media(p)
    assert JpegDQDetector().not_applicable_reason(media.item) is None
    f = JpegDQDetector().analyze(media.item, media)
    assert f.status.value == "not_applicable" and "PNG" in f.reason and f.probability is None
    tiny = tmp_path / "tiny.jpg"
    tiny.write_bytes(jpeg_bytes(host[:16, :16], 90))
    m2 = open_media(tiny)
    assert JpegDQDetector().analyze(m2.item, m2).status.value == "inconclusive"


def test_no_vote_on_a_file_without_aligned_dq_when_that_figure_includes_chance(host, tmp_path, monkeypatch):
    monkeypatch.setenv("FORENSICS_MODELS_PATH", str(_model_dir(tmp_path, [0.6, 0.8], no_dq_ci=[0.44, 0.6])))
    p = tmp_path / "once.jpg"
    p.write_bytes(jpeg_bytes(host, 90))  # saved once: no aligned double quantisation
    media = open_media(p)
    f = JpegDQDetector().analyze(media.item, media)
    assert f.status.value == "inconclusive" and f.probability is None
    assert "no aligned double quantisation was found" in f.reason and "0.44" in f.reason
    assert f.details["aligned_dq"]["frequencies_with_dq"] == 0


@pytest.mark.parametrize("quality", [50, 75, 90])
def test_quantisation_table_is_recovered_from_decoded_pixels(host, quality):
    jc = dq.coefficients_from_pixels(decode_image(jpeg_bytes(host, quality)))
    assert jc is not None and jc.reliable.sum() >= 15
    truth = dq.scaled_standard_table(quality).reshape(8, 8)
    assert np.array_equal(jc.qt_luma[jc.reliable], truth[jc.reliable])
    assert dq.table_quality(jc) == quality


def test_no_history_in_never_compressed_or_resized_pixels(host):
    import cv2

    assert dq.coefficients_from_pixels(host) is None
    resized = cv2.resize(decode_image(jpeg_bytes(host, 75)), (301, 227), interpolation=cv2.INTER_AREA)
    assert dq.coefficients_from_pixels(resized) is None


def test_pixel_path_localises_a_splice_in_a_png_copy(host, donor):
    """The DQ map of a decoded double-compressed splice saved as PNG matches the JPEG file's map."""
    camera = decode_image(jpeg_bytes(host, 70))
    fake = camera.copy()
    fake[96:200, 120:264] = donor[50:154, 60:204]
    data = jpeg_bytes(fake, 92)
    jc = dq.coefficients_from_pixels(decode_image(data))
    d = dq.aligned_dq(jc)
    p = dq.tamper_probability_map(d.block_llr)
    truth = np.zeros(p.shape, dtype=bool)
    truth[12:25, 15:33] = True
    assert d.used >= 5
    assert p[truth].mean() > 0.6 and p[~truth].mean() < 0.25
    assert _mask_f1(p > 0.5, truth) > 0.5


def test_png_copy_of_a_double_compressed_jpeg_uses_the_pixel_gate(host, tmp_path, monkeypatch):
    from forensics_plugins.jpeg_dq.train import PIXEL_ALL

    d = _model_dir(tmp_path, [0.6, 0.8])
    card = json.loads((d / "jpeg_dq" / "card.json").read_text(encoding="utf-8"))
    card["evaluations"] = {PIXEL_ALL: {"auc": 0.55, "auc_ci95": [0.47, 0.63], "dataset": "pixel files"}}
    write_model_card(d / "jpeg_dq", card)
    monkeypatch.setenv("FORENSICS_MODELS_PATH", str(d))
    p = tmp_path / "copy.png"
    p.write_bytes(png_bytes(decode_image(jpeg_bytes(decode_image(jpeg_bytes(host, 70)), 90))))
    media = open_media(p)
    f = JpegDQDetector().analyze(media.item, media)
    assert f.details["coefficients_from"].startswith("pixels")
    assert f.details["aligned_dq"]["doubly_compressed"] is True
    assert f.status.value == "inconclusive" and "recomputed from the pixels" in f.reason and "0.47" in f.reason


def test_content_pasted_into_a_decoded_jpeg_saved_as_png_is_off_the_lattice(host, donor, tmp_path):
    """A decoded JPEG with a region pasted in and saved losslessly: the pasted blocks leave the quantisation lattice."""
    camera = decode_image(jpeg_bytes(host, 80))
    fake = camera.copy()
    fake[96:200, 120:264] = decode_image(jpeg_bytes(donor, 70))[53:157, 61:205]  # off this image's 8x8 grid
    det = JpegDQDetector()
    found = {}
    for name, img in (("authentic", camera), ("fake", fake)):
        p = tmp_path / f"{name}.png"
        p.write_bytes(png_bytes(img))
        media = open_media(p)
        found[name] = det.analyze(media.item, media)
    a, f = found["authentic"], found["fake"]
    assert a.details["off_grid"]["marked_block_share"] < 0.02
    mask = next(x for x in f.artifacts if x.slug == "offgrid-mask")
    from PIL import Image

    m = np.asarray(Image.open(__import__("io").BytesIO(mask.png))) > 127
    truth = np.zeros(m.shape, bool)
    truth[96:200, 120:264] = True
    assert _mask_f1(m, truth) > 0.7
    assert f.details["off_grid"]["largest_region_share"] > 0.1
