"""Noise detector: a region with another noise level is found where it is, a uniformly noisy image is not, every
still format decodes, and the result is deterministic."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from forensics.api import Status, open_media
from forensics_plugins.noise import NoiseDetector
from forensics_plugins.noise.noise import analyse_noise, haar_hh1
from forensics_plugins.noise.splicebuster import MARK


def _scene(noisy_region: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth photo (astronaut, blurred) with σ=2 noise, and optionally a box with σ=7 noise (a 'splice')."""
    import cv2
    import skimage.data

    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(skimage.data.astronaut()[:384, :384].astype(np.float32), (0, 0), 2.0)
    img = base + rng.normal(0, 2.0, base.shape)
    truth = np.zeros(base.shape[:2], bool)
    if noisy_region:
        truth[96:224, 160:320] = True
        img[truth] += rng.normal(0, 7.0, (int(truth.sum()), 3))
    return np.clip(np.round(img), 0, 255).astype(np.uint8), truth


def test_haar_hh1_measures_white_noise():
    rng = np.random.default_rng(1)
    hh = haar_hh1(rng.normal(0, 5.0, (256, 256)))
    assert abs(np.median(np.abs(hh)) / 0.6745 - 5.0) < 0.3


def test_noisier_region_is_found():
    img, truth = _scene(True)
    r = analyse_noise(img)
    b = r.block
    inside = truth[b // 2::b, b // 2::b][: r.sigma.shape[0], : r.sigma.shape[1]]
    assert np.nanmedian(r.sigma[inside]) > 2 * np.nanmedian(r.sigma[~inside])
    cb = r.cooc_block
    cin = truth[cb // 2::cb, cb // 2::cb][: r.posterior.shape[0], : r.posterior.shape[1]]
    marked = r.posterior > MARK
    iou = (marked & cin).sum() / max(1, (marked | cin).sum())
    assert iou >= 0.5, iou


def test_uniform_noise_scores_below_the_splice():
    clean, _ = _scene(False)
    spliced, _ = _scene(True)
    a, b = analyse_noise(clean), analyse_noise(spliced)
    assert b.wavelet_score > a.wavelet_score and b.cooc_score > a.cooc_score
    assert b.stats["contrast"] > a.stats["contrast"] and b.stats["region_share"] > 0.05


def _encode(rgb: np.ndarray, fmt: str) -> bytes:
    from PIL import Image

    im = Image.fromarray(rgb)
    if fmt == "grey":
        im, fmt = im.convert("L"), "PNG"
    elif fmt == "rgba":
        im, fmt = im.convert("RGBA"), "PNG"
    buf = io.BytesIO()
    im.save(buf, format=fmt, **({"quality": 92} if fmt == "JPEG" else {"lossless": True} if fmt == "WEBP" else {}))
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "TIFF", "WEBP", "grey", "rgba"])
def test_every_still_format_decodes_and_is_analysed(tmp_path, fmt):
    img, _ = _scene(True)
    p = tmp_path / f"x.{fmt.lower()}"
    p.write_bytes(_encode(img, fmt))
    media = open_media(p)
    f = NoiseDetector().analyze(media.item, media)
    assert f.status in (Status.RAN, Status.INCONCLUSIVE, Status.UNAVAILABLE), f.reason
    assert len(f.artifacts) == 3 and all(a.png.startswith(b"\x89PNG") for a in f.artifacts)
    assert f.details["sigma_p95_over_p5"] > 2.0


def test_tiny_image_is_inconclusive(tmp_path):
    p = tmp_path / "tiny.png"
    p.write_bytes(_encode(np.zeros((40, 40, 3), np.uint8), "PNG"))
    media = open_media(p)
    f = NoiseDetector().analyze(media.item, media)
    assert f.status is Status.INCONCLUSIVE and f.probability is None


def test_finding_is_deterministic(tmp_path):
    img, _ = _scene(True)
    p = tmp_path / "x.png"
    p.write_bytes(_encode(img, "PNG"))
    det = NoiseDetector()
    a = det.analyze(open_media(p).item, open_media(p))
    b = det.analyze(open_media(p).item, open_media(p))
    assert json.dumps(a.to_json(), sort_keys=True) == json.dumps(b.to_json(), sort_keys=True)
    assert [x.sha256 for x in a.artifacts] == [x.sha256 for x in b.artifacts]


def test_window_histograms_are_box_sums_of_cell_histograms():
    from forensics_plugins.noise import splicebuster as sb

    rng = np.random.default_rng(3)
    g = rng.normal(128, 3, (80, 96))
    hist = sb.cell_histograms(g, 8)
    assert hist.shape == (10, 12, 6 * 81)
    s = sb.box_sum(hist, 4)
    assert s.shape == (7, 9, 6 * 81)
    assert np.allclose(s[2, 3], hist[2:6, 3:7].sum(axis=(0, 1)))
    # every cell counts each of its pixels once per quantisation step and direction (minus undefined borders)
    assert hist[1:-1, 1:-1, :81].sum(-1).max() <= 64


def test_gauss_uniform_em_flags_the_outlying_rows():
    from forensics_plugins.noise.splicebuster import gauss_uniform_em

    rng = np.random.default_rng(4)
    Z = np.concatenate([rng.normal(0, 1, (400, 3)), rng.normal(6, 0.5, (30, 3))])
    post, dist, pi = gauss_uniform_em(Z)
    assert post[400:].mean() > 0.9 and post[:400].mean() < 0.1
    assert 0.03 < pi < 0.15 and dist[400:].min() > dist[:400].max() * 0.9


def _noisy_splice(donor_sigma: float):
    """(host, spliced, truth): a region of a noisier (higher-ISO) uncompressed photo pasted into a quieter one."""
    import cv2
    import skimage.data

    rng = np.random.default_rng(5)
    host = cv2.GaussianBlur(skimage.data.coffee()[:320, :384].astype(np.float32), (0, 0), 1.5)
    host = host + rng.normal(0, 1.5, host.shape)
    donor = cv2.GaussianBlur(skimage.data.chelsea()[:320, :384].astype(np.float32), (0, 0), 1.5)
    donor = donor + rng.normal(0, donor_sigma, donor.shape)
    fake = host.copy()
    fake[80:200, 120:260] = donor[80:200, 120:260]
    truth = np.zeros(fake.shape[:2], bool)
    truth[80:200, 120:260] = True
    return host, fake, truth


def test_splice_from_a_noisier_photo_is_marked_and_scores_higher():
    """A region pasted from a noisier (higher-ISO) uncompressed photo: the co-occurrence map marks it."""

    host, fake, truth = _noisy_splice(6.0)
    a = analyse_noise(np.clip(np.round(host), 0, 255).astype(np.uint8))
    b = analyse_noise(np.clip(np.round(fake), 0, 255).astype(np.uint8))
    c = b.cooc_block
    cin = truth[c // 2::c, c // 2::c][: b.posterior.shape[0], : b.posterior.shape[1]]
    assert b.posterior[cin].mean() > 0.7 and b.posterior[~cin].mean() < 0.3
    assert b.stats["contrast"] > a.stats["contrast"]


def test_marked_mask_is_at_the_image_size_and_covers_the_noisier_region():
    from forensics_plugins.noise.noise import marked_mask
    from forensics_plugins.noise.train import pixel_f1_mcc

    img, truth = _scene(True)
    m = marked_mask(analyse_noise(img), truth.shape, MARK)
    assert m.shape == truth.shape
    f1, mcc = pixel_f1_mcc(m, truth)
    assert f1 > 0.5 and mcc > 0.4
    assert pixel_f1_mcc(truth, truth) == (1.0, 1.0)


# --- the calibrated mark gate: the binary mask says 'a region stands out' only above a threshold set on authentic
# training images at a stated false-mark rate (models/noise/calibrator.json, hash-checked) ---


def _gate():
    from forensics.api import load_card
    from forensics_plugins.noise import load_calibration

    card = load_card("noise")
    return card, card.load("weights", load_calibration)[1]


def _mask_of(f) -> np.ndarray:
    from PIL import Image

    art = {a.slug: a for a in f.artifacts}["noise-mask"]
    return np.asarray(Image.open(io.BytesIO(art.png)).convert("L")) > 127


def test_mark_gate_threshold_round_trips_from_the_model_file():
    from forensics_plugins.noise.noise import GATE_STATS, MarkGate, wilson_interval

    card, gate = _gate()
    blob = json.loads(card.path("weights").read_text(encoding="utf-8"))
    assert MarkGate.from_json(blob["mark_gate"]) == gate == MarkGate.from_json(gate.to_json())
    assert gate.statistic in GATE_STATS and np.isfinite(gate.threshold)
    assert card.data["mark_gate"]["threshold"] == gate.threshold and card.data["version"] == NoiseDetector.version
    assert 0 <= gate.fmr <= gate.target_fmr and gate.n_authentic >= 50
    # the threshold is the value above which at most target_fmr of the authentic values fall
    vals = np.arange(100, dtype=float)
    g = MarkGate.fit("contrast", vals, 0.1, rule="point")
    assert g.threshold == 89.0 and g.fmr == 0.1 and MarkGate.fit("contrast", vals, 0.0).threshold == 99.0
    # upper95: the most authentic images above the threshold whose Wilson upper bound is still within the target
    u = MarkGate.fit("contrast", vals, 0.1)
    k = int(round(u.fmr * 100))
    assert wilson_interval(k, 100)[1] <= 0.1 < wilson_interval(k + 1, 100)[1] and u.threshold == 99.0 - k


def test_authentic_photo_below_the_threshold_gets_no_marked_region(tmp_path):
    """A generated authentic photo (uniform noise, one JPEG save) whose gate statistic is below the threshold: the
    finding says no region stands out, the mask is empty, and the continuous maps are still there."""
    import cv2
    import skimage.data

    _, gate = _gate()
    rng = np.random.default_rng(11)
    base = cv2.GaussianBlur(skimage.data.astronaut()[:384, :384].astype(np.float32), (0, 0), 1.0)
    img = np.clip(np.round(base + rng.normal(0, 2.0, base.shape)), 0, 255).astype(np.uint8)
    p = tmp_path / "authentic.png"
    p.write_bytes(_encode(img, "PNG"))
    media = open_media(p)
    f = NoiseDetector().analyze(media.item, media)
    d = f.details
    assert d["mark_statistic"] == gate.statistic and d["mark_threshold"] == round(gate.threshold, 6)
    assert d["mark_statistic_value"] <= d["mark_threshold"], d
    assert d["cells_above_mark_share"] > 0.05  # ungated, the two-class map would have marked a region here
    assert d["region_marked"] is False and d["marked_share"] == 0.0
    assert not _mask_of(f).any()
    art = {a.slug: a for a in f.artifacts}
    assert "no region stands out at the calibrated threshold" in art["noise-mask"].caption.lower()
    assert gate.heldout_n > 0 and f"false-mark rate {gate.heldout_fmr:.3f} on {gate.heldout_n} held-out" in \
        art["noise-mask"].caption and f"set on {gate.n_authentic} authentic training images" in art["noise-mask"].caption
    assert "No region stands out" in f.summary and "A region stands out" not in f.summary
    assert {"noise-sigma", "noise-cooc"} <= set(art)


def test_strongly_inconsistent_pasted_region_is_marked_and_overlaps_the_truth(tmp_path):
    """A region pasted from a much noisier (high-ISO) photo: the gate statistic exceeds the threshold and the drawn
    mask overlaps the pasted box."""

    from forensics_plugins.noise.train import pixel_f1_mcc

    _, gate = _gate()
    _host, fake, truth = _noisy_splice(8.0)
    p = tmp_path / "spliced.png"
    p.write_bytes(_encode(np.clip(np.round(fake), 0, 255).astype(np.uint8), "PNG"))
    media = open_media(p)
    f = NoiseDetector().analyze(media.item, media)
    assert f.details["mark_statistic_value"] > f.details["mark_threshold"], f.details
    assert f.details["region_marked"] is True and "A region stands out" in f.summary
    m = _mask_of(f)
    assert m.shape == truth.shape
    f1, mcc = pixel_f1_mcc(m, truth)
    assert f1 > 0.5 and mcc > 0.4, (f1, mcc)
