"""Copy-move detector: a pasted copy is found where it is, an authentic photo is not flagged, every still format
decodes, the result is deterministic, and the generator keeps its contract."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from forensics.api import Status, make_copy_move, open_media
from forensics_plugins.copy_move import CopyMoveDetector
from forensics_plugins.copy_move.cmfd import (
    Transform,
    _repeating,
    block_shifts,
    detect_copy_move,
    pixel_scores,
    to_gray,
    zernike_matches,
)


@pytest.fixture(scope="module")
def astronaut():
    import skimage.data

    return skimage.data.astronaut()


@pytest.fixture(scope="module")
def plain(astronaut):
    return make_copy_move(astronaut, np.random.default_rng(0), feather=False)


def test_generator_contract_and_determinism(astronaut):
    a = make_copy_move(astronaut, np.random.default_rng(3), rotate=(-30, 30), scale=(0.9, 1.1), quality=85)
    b = make_copy_move(astronaut, np.random.default_rng(3), rotate=(-30, 30), scale=(0.9, 1.1), quality=85)
    forged, mask, info = a
    assert forged.shape == astronaut.shape and forged.dtype == np.uint8 and mask.shape == astronaut.shape[:2]
    assert np.array_equal(forged, b[0]) and np.array_equal(mask, b[1]) and info == b[2]
    assert 0.01 < mask.mean() < 0.2 and info["quality"] == 85
    # outside the target the image is untouched apart from the JPEG round trip; the target region changed
    changed = np.abs(make_copy_move(astronaut, np.random.default_rng(3), rotate=(-30, 30), scale=(0.9, 1.1))[0]
                     .astype(int) - astronaut).sum(-1) > 0
    assert changed.any() and (changed & ~mask).sum() == 0


def test_plain_copy_is_found_and_localised(plain):
    forged, truth, _ = plain
    r = detect_copy_move(forged)
    assert r.transforms, "no keypoint transform found for a plain copy"
    assert pixel_scores(r.mask_at(truth.shape), truth)["iou"] >= 0.5


def test_rotated_jpeg_copy_is_found(astronaut):
    forged, truth, info = make_copy_move(astronaut, np.random.default_rng(1), rotate=(-30, 30), quality=90)
    r = detect_copy_move(forged)
    assert pixel_scores(r.mask_at(truth.shape), truth)["iou"] >= 0.4, info


def _warped_copy(host: np.ndarray, box: tuple[int, int, int, int], quality: int, angle: float = 0.0,
                 sx: float = 1.0, sy: float = 1.0, to: tuple[float, float] = (100.0, 100.0)) -> tuple:
    """``host`` with its ``box`` (x0, y0, x1, y1) scaled by ``sx`` x ``sy`` along the image axes, then rotated by
    ``angle`` degrees, pasted centred on ``to`` (bicubic), then saved as JPEG: the forgery and its truth mask
    (source | target)."""
    import cv2
    from PIL import Image

    a = np.deg2rad(angle)
    L = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ np.diag([sx, sy])
    c = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    A = np.hstack([L, (np.array(to) - L @ c)[:, None]])
    H, W = host.shape[:2]
    src = np.zeros((H, W), np.uint8)
    src[box[1]:box[3], box[0]:box[2]] = 1
    warped = cv2.warpAffine(host, A, (W, H), flags=cv2.INTER_CUBIC)
    tgt = cv2.warpAffine(src, A, (W, H), flags=cv2.INTER_NEAREST) > 0
    forged = np.where(tgt[..., None], warped, host)
    buf = io.BytesIO()
    Image.fromarray(forged).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB")), (src > 0) | tgt


@pytest.mark.parametrize("sx,sy,angle", [(1.4, 1.2, 0.0), (1.4, 1.2, 20.0)])
def test_copy_scaled_differently_along_x_and_y_is_found(astronaut, sx, sy, angle):
    """MICC-F220's hardest attacks: a copy scaled 1.4 x 1.2 (and rotated), JPEG-saved. A similarity cannot map it to
    a fraction of a pixel, so the similarity's inliers are refitted with a full affine map before verification, and
    the resampled copy is compared on the low-passed image."""
    box = (200, 250, 300, 350)  # a textured patch (the suit and its badges)
    forged, truth = _warped_copy(astronaut, box, quality=90, angle=angle, sx=sx, sy=sy)
    r = detect_copy_move(forged)
    assert pixel_scores(r.mask_at(truth.shape), truth)["iou"] >= 0.4, [t.describe(r.scale) for t in r.transforms]
    found = r.transforms[0].affine[:, :2]
    sv = np.linalg.svd(found, compute_uv=False)
    assert sv[0] / sv[1] == pytest.approx(sx / sy, rel=0.05)  # the anisotropy itself was recovered


def test_rotated_copy_after_strong_jpeg_is_verified_whole(astronaut):
    """A rotated copy was interpolated when pasted and then JPEG-saved at quality 60: compared on the low-passed
    image (RESAMPLED_SIGMA) it verifies nearly whole; at full detail, only in part (IoU 0.64 here)."""
    forged, truth = _warped_copy(astronaut, (200, 250, 300, 350), quality=60, angle=40.0)
    assert pixel_scores(detect_copy_move(forged).mask_at(truth.shape), truth)["iou"] >= 0.75


@pytest.fixture(scope="module")
def small_plain(astronaut):
    """A plain copy in a 192-px portrait (the size of the face crops the detector meets most)."""
    import cv2

    small = cv2.resize(astronaut, (192, 192), interpolation=cv2.INTER_AREA)
    return make_copy_move(small, np.random.default_rng(4), area=(0.03, 0.05), feather=False)


def test_block_matching_votes_for_the_shift_of_a_plain_copy(small_plain):
    forged, truth, info = small_plain
    shift = np.round(np.array(info["affine"])[:, 2])
    shifts = [s for s, _ in block_shifts(to_gray(forged))]
    assert any(np.abs(s - shift).max() <= 1 or np.abs(s + shift).max() <= 1 for s in shifts), (shift, shifts)


def test_small_portrait_copy_is_found_and_localised(small_plain):
    forged, truth, _ = small_plain
    r = detect_copy_move(forged)
    assert r.transforms and pixel_scores(r.mask_at(truth.shape), truth)["f1"] >= 0.5


def test_dense_zernike_matches_include_the_rotated_copy(astronaut):
    """Rotation-invariant dense matches: many of them map source to target (or back) under the true transform."""
    import cv2

    forged, truth, info = make_copy_move(astronaut, np.random.default_rng(5), area=(0.04, 0.06), rotate=30,
                                         feather=False)
    P, Q = zernike_matches(to_gray(forged))
    A = np.array(info["affine"])
    Ai = cv2.invertAffineTransform(A)
    fw, bw = P @ A[:, :2].T + A[:, 2], P @ Ai[:, :2].T + Ai[:, 2]
    correct = (np.linalg.norm(fw - Q, axis=1) < 4) | (np.linalg.norm(bw - Q, axis=1) < 4)
    assert correct.sum() >= 20 and truth[P[correct, 1].astype(int), P[correct, 0].astype(int)].mean() > 0.9


def test_periodic_texture_is_not_flagged():
    """A tiled texture repeats everywhere by construction; it is not a copy-move and must not be marked."""
    import cv2

    tile = cv2.GaussianBlur(np.random.default_rng(0).integers(0, 256, (40, 40)).astype(np.float32), (0, 0), 1.0)
    img = np.tile(tile, (8, 8))[:300, :300]
    img = np.clip((img - img.mean()) * 3 + 128, 0, 255).astype(np.uint8)
    r = detect_copy_move(np.stack([img] * 3, -1))
    assert r.share == 0, [t.describe(r.scale) for t in r.transforms]


def _found(affines, mask):
    return [(Transform(np.asarray(A, float), np.zeros((0, 2)), np.zeros((0, 2))), mask, 1.0) for A in affines]


def test_repeat_rule_groups_plain_shifts_but_not_a_plain_copy_with_resampled_maps():
    """Four shifts over overlapping regions are a repeating pattern and all are dropped; one plain shift over the
    same region as three rotated/scaled maps (similar objects matched on the low-passed image) is not grouped with
    them, so the plain copy survives (COVERAGE 28t)."""
    mask = np.zeros((100, 100), bool)
    mask[20:60, 20:60] = True
    shifts = [[[1, 0, dx], [0, 1, 0]] for dx in (10, 20, 30, 40)]
    assert len(_repeating(_found(shifts, mask))) == 4
    c, s_ = np.cos(0.3), np.sin(0.3)
    resampled = [[[c, -s_, 5], [s_, c, 0]], [[1.2, 0, 0], [0, 1.2, 3]], [[c, s_, 0], [-s_, c, 7]]]
    found = _found(shifts[:1] + resampled, mask)
    assert _repeating(found) == []
    found = _found(shifts[:1] + resampled + resampled[:1], mask)  # four resampled maps: those repeat, the shift not
    dropped = _repeating(found)
    assert len(dropped) == 4 and all(t is not found[0][0] for t in dropped)


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee"])
def test_authentic_photo_is_not_flagged(name):
    import skimage.data

    r = detect_copy_move(getattr(skimage.data, name)())
    assert r.share < 0.002, (name, r.share, [t.describe(r.scale) for t in r.transforms])


def _encode(rgb: np.ndarray, fmt: str) -> bytes:
    from PIL import Image

    im = Image.fromarray(rgb)
    if fmt == "grey":
        im, fmt = im.convert("L"), "PNG"
    elif fmt == "rgba":
        im = im.convert("RGBA")
        im.putalpha(255)
        fmt = "PNG"
    buf = io.BytesIO()
    im.save(buf, format=fmt, **({"quality": 92} if fmt == "JPEG" else {"lossless": True} if fmt == "WEBP" else {}))
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "TIFF", "WEBP", "grey", "rgba"])
def test_every_still_format_decodes_and_is_analysed(tmp_path, plain, fmt):
    import cv2

    forged, truth, _ = plain
    small = cv2.resize(forged, (384, 384), interpolation=cv2.INTER_AREA)
    p = tmp_path / f"forged.{fmt.lower()}"
    p.write_bytes(_encode(small, fmt))
    media = open_media(p)
    f = CopyMoveDetector().analyze(media.item, media)
    assert f.status in (Status.RAN, Status.INCONCLUSIVE, Status.UNAVAILABLE), f.reason
    assert len(f.artifacts) == 3 and all(a.png.startswith(b"\x89PNG") for a in f.artifacts)
    assert f.details["marked_share"] > 0.005, (fmt, f.details)


def test_finding_is_deterministic_and_calibrated(tmp_path, plain, astronaut):
    forged, _, _ = plain
    p = tmp_path / "forged.png"
    p.write_bytes(_encode(forged, "PNG"))
    q = tmp_path / "authentic.png"
    q.write_bytes(_encode(astronaut, "PNG"))
    det = CopyMoveDetector()
    runs = [det.analyze(open_media(p).item, open_media(p)) for _ in range(2)]
    assert json.dumps(runs[0].to_json(), sort_keys=True) == json.dumps(runs[1].to_json(), sort_keys=True)
    auth = det.analyze(open_media(q).item, open_media(q))
    if runs[0].status is Status.RAN:  # the shipped calibrator votes: the copy must score above the authentic photo
        assert runs[0].probability > 0.5 > auth.probability
    else:
        assert runs[0].probability is None and runs[0].artifacts


def test_real_set_measurement_scores_each_kind_and_both_mask_sets(tmp_path, astronaut):
    """``forensics train copy_move --real DIR`` measures a real set (never fitted on): per-kind AUC and pixel F1
    against ``mask/`` (pasted region) and ``mask_srctgt/`` (source + target)."""
    import cv2
    import skimage.data
    from PIL import Image

    from forensics.api import Calibrator
    from forensics_plugins.copy_move.realdata import evaluate_real

    root = tmp_path / "tinyset"
    for d in ("real", "fake/plain", "mask", "mask_srctgt"):
        (root / d).mkdir(parents=True)
    hosts = [cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA),
             cv2.resize(skimage.data.chelsea(), (256, 256), interpolation=cv2.INTER_AREA)]
    for i, host in enumerate(hosts):
        Image.fromarray(host).save(root / "real" / f"{i}.png")
        forged, truth, info = make_copy_move(host, np.random.default_rng(4 + i), area=(0.03, 0.05), feather=False)
        Image.fromarray(forged).save(root / "fake" / "plain" / f"{i}t.png")
        # the generator's truth marks source + target; the pasted target alone is where the source lands
        target = truth & cv2.warpAffine(truth.astype(np.uint8), np.array(info["affine"]), truth.shape[::-1],
                                        flags=cv2.INTER_NEAREST).astype(bool)
        assert 0 < target.sum() < truth.sum()
        Image.fromarray(target.astype(np.uint8) * 255).save(root / "mask" / f"{i}t.png")
        Image.fromarray(truth.astype(np.uint8) * 255).save(root / "mask_srctgt" / f"{i}t.png")
    cal = Calibrator.fit(np.array([-5.0, -4.0, -2.0, -1.0]), np.array([0, 0, 1, 1]), method="platt", input="raw",
                         sign=+1)
    evaluations, summary = evaluate_real(root, cal, echo=lambda _: None)
    assert set(evaluations) == {"real set tinyset: all tampered vs authentic", "real set tinyset: plain vs authentic"}
    assert evaluations["real set tinyset: plain vs authentic"]["kind"] == "cross-source (real)"
    assert summary["scored"] == 4 and summary["failed"] == 0 and summary["authentic"] == 2
    loc = summary["localisation"]
    assert loc["plain (pasted region)"]["n"] == 2 and loc["plain (source + pasted region)"]["n"] == 2
    assert loc["plain (source + pasted region)"]["pixel_f1_mean"] >= 0.5
    assert loc["plain (source + pasted region)"]["pixel_f1_mean"] > loc["plain (pasted region)"]["pixel_f1_mean"]
