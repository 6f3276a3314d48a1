"""Blink detector: EAR maths, the blink rule on synthetic sequences, the LRCN, training, the detector."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from forensics_plugins.blink_lrcn.blinks import (
    MAX_BLINK_S,
    MIN_CLIP_S,
    blinks_from_ear,
    blinks_from_probability,
    closed_runs,
    detect_blinks,
    low_blink_surprise,
    poisson_cdf,
    poisson_rate_interval,
)
from forensics_plugins.blink_lrcn.eyes import (
    EYE_CROP_SIZE,
    ear_pair,
    eye_aspect_ratio,
    eye_crops,
    eye_visibility,
    mean_ear,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


# ----------------------------------------------------------------------------- synthetic faces


def eye_points(cx: float, cy: float, width: float, ear: float) -> np.ndarray:
    """Six iBUG eye points (corner, upper, upper, corner, lower, lower) with a given EAR."""
    h = ear * width / 2.0  # half of each vertical distance: (2h + 2h) / (2 w) = ear
    x1, x2 = cx - width / 6.0, cx + width / 6.0
    return np.array([[cx - width / 2, cy], [x1, cy - h], [x2, cy - h], [cx + width / 2, cy], [x2, cy + h],
                     [x1, cy + h]])


def face_landmarks(ear: float = 0.3, scale: float = 1.0, angle_deg: float = 0.0, offset=(0.0, 0.0),
                   yaw_squash: float = 1.0) -> np.ndarray:
    """A crude 68-point face (iBUG order): only eyes, nose tip and mouth corners need to be right."""
    lm = np.zeros((68, 2))
    lm[0:17] = np.stack([np.linspace(-60, 60, 17), 30 + 40 * np.sin(np.linspace(0, np.pi, 17))], 1)
    lm[17:22] = np.stack([np.linspace(-50, -15, 5), np.full(5, -35)], 1)
    lm[22:27] = np.stack([np.linspace(15, 50, 5), np.full(5, -35)], 1)
    lm[27:31] = np.stack([np.zeros(4), np.linspace(-15, 15, 4)], 1)
    lm[31:36] = np.stack([np.linspace(-12, 12, 5), np.full(5, 20)], 1)
    lm[36:42] = eye_points(-30, -15, 24 * yaw_squash, ear)
    lm[42:48] = eye_points(30, -15, 24, ear)
    t = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    lm[48:68] = np.stack([-22 * np.cos(t), 45 + 8 * np.sin(t)], 1)
    a = math.radians(angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return (lm @ rot.T) * scale + np.array([100.0, 100.0]) + np.asarray(offset)


def draw_face(lm: np.ndarray, closed: bool, size: int = 224) -> np.ndarray:
    """A grey face with eyes drawn open (white sclera, dark iris) or closed (a dark lid line)."""
    import cv2

    img = np.full((size, size, 3), 170, np.uint8)
    for sl in (slice(36, 42), slice(42, 48)):
        pts = lm[sl].astype(np.int32)
        c = lm[sl].mean(0)
        if closed:
            cv2.line(img, tuple(pts[0]), tuple(pts[3]), (40, 40, 40), 2)
        else:
            cv2.fillPoly(img, [pts], (245, 245, 245))
            cv2.circle(img, (int(c[0]), int(c[1])), 4, (20, 20, 20), -1)
    return img


# ----------------------------------------------------------------------------- EAR


def test_ear_known_values():
    eye = np.array([[0, 0], [1, -1], [2, -1], [3, 0], [2, 1], [1, 1]], float)
    assert eye_aspect_ratio(eye) == pytest.approx(4 / 6)  # (2 + 2) / (2 * 3)
    flat = eye.copy()
    flat[[1, 2, 4, 5], 1] = 0
    assert eye_aspect_ratio(flat) == 0.0
    assert math.isnan(eye_aspect_ratio(np.zeros((6, 2))))
    for ear in (0.05, 0.2, 0.31):
        assert eye_aspect_ratio(eye_points(5, 7, 30, ear)) == pytest.approx(ear)


def test_ear_invariant_to_similarity_transforms():
    base = face_landmarks(ear=0.27)
    moved = face_landmarks(ear=0.27, scale=2.5, angle_deg=23, offset=(40, -10))
    assert ear_pair(base) == pytest.approx((0.27, 0.27))
    assert ear_pair(moved) == pytest.approx((0.27, 0.27))
    assert mean_ear(face_landmarks(ear=0.1)) == pytest.approx(0.1)


def test_eye_crops_are_level_and_centred():
    lm = face_landmarks(ear=0.3, angle_deg=20)
    img = draw_face(lm, closed=False)
    crops = eye_crops(img, lm)
    assert crops.shape == (2, EYE_CROP_SIZE, EYE_CROP_SIZE) and crops.dtype == np.uint8
    c = EYE_CROP_SIZE // 2
    for crop in crops:  # the dark iris sits in the middle of each crop
        assert crop[c - 2:c + 2, c - 2:c + 2].mean() < 80 < crop[:4].mean()


def test_visibility_gates():
    assert eye_visibility(face_landmarks()) is None
    assert "profile" in eye_visibility(face_landmarks(yaw_squash=0.3))
    assert "too small" in eye_visibility(face_landmarks(scale=0.1))
    lm = face_landmarks()
    dark = draw_face(lm, closed=False)
    for sl in (slice(36, 42), slice(42, 48)):
        c = lm[sl].mean(0).astype(int)
        dark[c[1] - 12:c[1] + 12, c[0] - 20:c[0] + 20] = 15  # dark glasses
    assert "covered" in eye_visibility(lm, dark, lm)
    assert eye_visibility(lm, draw_face(lm, closed=True), lm) is None  # closed eyes are not "covered"


# ----------------------------------------------------------------------------- the blink rule


def sequence(n: int, blinks: list[tuple[int, int]]) -> np.ndarray:
    c = np.zeros(n, bool)
    for start, length in blinks:
        c[start:start + length] = True
    return c


def test_closed_runs_and_merging():
    assert closed_runs(np.zeros(5, bool)) == []
    assert closed_runs(sequence(10, [(2, 3)])) == [(2, 4)]
    assert closed_runs(np.array([1, 0, 1, 0, 0, 1], bool)) == [(0, 2), (5, 5)]
    assert closed_runs(np.array([1, 0, 1, 0, 0, 1], bool), merge_gap=0) == [(0, 0), (2, 2), (5, 5)]


def test_blinks_exact_count_at_30fps():
    # 20 s at 30 fps; blinks of 2..12 frames (67..400 ms), well apart
    events = [(30, 2), (120, 4), (200, 3), (290, 12), (400, 5), (520, 6)]
    st = detect_blinks(sequence(600, events), fps=30.0)
    assert st.count == 6 and st.long_closures == []
    assert st.rate_per_min == pytest.approx(18.0)
    assert st.durations_ms == pytest.approx([1000 * n / 30 for _, n in events])
    assert st.intervals_s == pytest.approx([(b[0] + b[1] / 2 - a[0] - a[1] / 2) / 30 for a, b in zip(events, events[1:])])


def test_blink_rule_rejects_flicker_and_long_closures():
    # 1-frame flicker at 30 fps (33 ms < 60 ms) is not a blink; 1.5 s closure is a long closure
    st = detect_blinks(sequence(300, [(10, 1), (50, 3), (100, 45), (200, 2)]), fps=30.0)
    assert st.count == 2 and len(st.long_closures) == 1
    assert st.long_closures[0].duration_s == pytest.approx(1.5)
    # a 1-frame closure at 15 fps lasts 67 ms: a blink
    assert detect_blinks(sequence(150, [(10, 1), (80, 2)]), fps=15.0).count == 2
    # a blink with one misread open frame in the middle is one blink; two open frames split it
    assert detect_blinks(np.array([0] * 5 + [1, 1, 0, 1, 1] + [0] * 5, bool), fps=30.0).count == 1
    assert detect_blinks(np.array([0] * 5 + [1, 1, 0, 0, 1, 1] + [0] * 5, bool), fps=30.0).count == 2
    # the maximum is inclusive
    n = int(round(MAX_BLINK_S * 25))
    assert detect_blinks(sequence(100, [(10, n)]), fps=25.0).count == 1


def test_blinks_from_probability_and_ear_series():
    rng = np.random.default_rng(0)
    fps, n = 25.0, 500
    truth = [(40, 3), (130, 5), (260, 4), (400, 7)]
    closed = sequence(n, truth)
    p = np.where(closed, 0.9, 0.1) + rng.normal(0, 0.05, n)
    assert blinks_from_probability(p, fps).count == 4
    ear = np.where(closed, 0.08, 0.30) + rng.normal(0, 0.01, n)
    st = blinks_from_ear(ear, fps)
    assert st.count == 4 and st.threshold == pytest.approx(0.21)
    # a narrow-eyed person (open EAR 0.2): the threshold follows the median
    st2 = blinks_from_ear(np.where(closed, 0.05, 0.20), fps)
    assert st2.threshold == pytest.approx(0.15) and st2.count == 4
    # NaN (eyes hidden) frames are never closed
    ear[40:43] = np.nan
    assert blinks_from_ear(ear, fps).count == 3


def test_poisson_helpers():
    assert poisson_cdf(0, 2.0) == pytest.approx(math.exp(-2))
    assert poisson_cdf(2, 1.5) == pytest.approx(math.exp(-1.5) * (1 + 1.5 + 1.125))
    # no blink in a minute: the resting norm expects 17
    assert low_blink_surprise(0, 60.0) == pytest.approx(17 / math.log(10))
    assert low_blink_surprise(30, 60.0) < 1e-3 < low_blink_surprise(17, 60.0) < 0.5
    assert low_blink_surprise(0, 5.0) < low_blink_surprise(0, 20.0)
    lo, hi = poisson_rate_interval(0, 60.0)
    assert lo == 0.0 and hi == pytest.approx(3.689, abs=1e-3)  # exact Garwood upper bound for 0 events
    lo, hi = poisson_rate_interval(10, 60.0)
    assert lo == pytest.approx(4.795, abs=1e-3) and hi == pytest.approx(18.39, abs=1e-2)


# ----------------------------------------------------------------------------- LRCN


def test_lrcn_shapes_and_safetensors_roundtrip(tmp_path):
    import torch

    from forensics_plugins.blink_lrcn.lrcn import LRCN, eye_state, load_weights, save_weights

    torch.manual_seed(0)
    model = LRCN().eval()
    x = torch.randn(3, 7, 1, EYE_CROP_SIZE, EYE_CROP_SIZE)
    seq, frame = model(x)
    assert seq.shape == (3, 7) and frame.shape == (3, 7)
    crops = np.random.default_rng(0).integers(0, 256, (11, 2, EYE_CROP_SIZE, EYE_CROP_SIZE), dtype=np.uint8)
    p_lrcn, p_cnn = eye_state(model, crops)
    assert p_lrcn.shape == (11,) and p_cnn.shape == (11,)
    assert ((0 <= p_lrcn) & (p_lrcn <= 1)).all()
    save_weights(model, tmp_path / "w.safetensors")
    again = load_weights(tmp_path / "w.safetensors")
    np.testing.assert_allclose(eye_state(again, crops)[0], p_lrcn, rtol=1e-6)
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    assert eye_state(model, crops[:0])[0].shape == (0,)


def test_lrcn_widths_are_read_from_the_weights(tmp_path):
    import torch

    from forensics_plugins.blink_lrcn.lrcn import LRCN, WIDTHS, load_weights, save_weights

    torch.manual_seed(0)
    old = LRCN(widths=(16, 32, 64)).eval()  # the v1.1 layout still loads
    save_weights(old, tmp_path / "old.safetensors")
    again = load_weights(tmp_path / "old.safetensors")
    assert [m.out_channels for m in again.cnn.features if hasattr(m, "out_channels")] == [16, 32, 64]
    x = torch.randn(2, 3, 1, EYE_CROP_SIZE, EYE_CROP_SIZE)
    torch.testing.assert_close(again(x)[1], old(x)[1])
    new = LRCN()
    assert [m.out_channels for m in new.cnn.features if hasattr(m, "out_channels")] == list(WIDTHS)
    save_weights(new, tmp_path / "new.safetensors")
    assert (tmp_path / "new.safetensors").stat().st_size < 20 * 1024 * 1024


def test_train_cnn_with_ema_and_validation_is_deterministic():
    from forensics_plugins.blink_lrcn.lrcn import LRCN
    from forensics_plugins.blink_lrcn.train import _set_seed, frame_probabilities, train_cnn

    crops = np.stack([_eye(i, closed=i % 2 == 1) for i in range(24)])
    labels = np.arange(24) % 2
    sources = np.array(["a"] * 12 + ["b"] * 12)
    outs = []
    for _ in range(2):
        _set_seed(0)
        model = LRCN(widths=(8, 8, 8))
        sel = train_cnn(model, crops, labels, 2, 0, echo=lambda m: None, batch=8, sources=sources, epoch_size=16,
                        val=(crops, labels, sources), ema=0.9)
        outs.append(frame_probabilities(model, crops))
    assert sel["epoch"] in (1, 2) and len(sel["history"]) == 2 and sel["ema"] == 0.9
    np.testing.assert_array_equal(outs[0], outs[1])


def _write_synthetic_eye_folder(root: Path, n: int = 40) -> None:
    import cv2

    rng = np.random.default_rng(1)
    for label in ("open", "closed"):
        (root / label).mkdir(parents=True)
        for i in range(n):
            img = np.full((64, 64), int(rng.integers(120, 200)), np.uint8)
            cx, cy = 32 + int(rng.integers(-4, 5)), 32 + int(rng.integers(-4, 5))
            if label == "open":
                cv2.ellipse(img, (cx, cy), (20, 10), 0, 0, 360, 240, -1)
                cv2.circle(img, (cx, cy), 7, 30, -1)
            else:
                cv2.ellipse(img, (cx, cy), (20, 4), 0, 0, 180, 50, 2)
            cv2.imwrite(str(root / label / f"{i}.png"), img)


@pytest.mark.slow
def test_tiny_train_then_infer(tmp_path, monkeypatch):
    from forensics.models import load_card
    from forensics_plugins.blink_lrcn.data import eye_crop_image
    from forensics_plugins.blink_lrcn.lrcn import eye_state, load_weights
    from forensics_plugins.blink_lrcn.train import train

    data = tmp_path / "eyes"
    _write_synthetic_eye_folder(data)
    out = tmp_path / "models" / "blink_lrcn"
    card = train([data], out, seed=0, cnn_epochs=4, lstm_epochs=3, sequences=60, seq_len=40, variants=2,
                 echo=lambda m: None, epoch_size=100)
    assert (out / "lrcn.safetensors").stat().st_size < 20 * 1024 * 1024
    assert card["eye_state_metrics"]["cnn_per_frame_heldout"]["auc"] > 0.9
    assert card["detector_level"]["calibrated"] is False and card["metrics"] == {}
    monkeypatch.setenv("FORENSICS_MODELS_PATH", str(out.parent))
    loaded = load_card("blink_lrcn")  # hash-checked, found in the tmp folder first
    assert loaded.directory == out
    model = load_weights(loaded.path("weights"))
    o = eye_crop_image(data / "open" / "0.png")
    c = eye_crop_image(data / "closed" / "0.png")
    # a sequence: open, a 4-frame blink, open
    seq = np.stack([np.stack([x, x]) for x in [o] * 12 + [c] * 4 + [o] * 12])
    p_lrcn, p_cnn = eye_state(model, seq)
    assert p_cnn[12:16].min() > 0.5 > p_cnn[:12].max()
    assert blinks_from_probability(p_cnn, 30.0).count == 1


@pytest.mark.slow
def test_calibration_is_monotone_and_leave_one_out():
    from forensics_plugins.blink_lrcn.train import calibrate, fit_calibrator

    s = np.array([0.0, 0.1, 0.2, 0.3, 1.0, 1.5, 2.0, 3.0])
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    cal, m, loo = calibrate(s, y)
    assert cal.coef > 0 and cal.probability(3.0) > cal.probability(0.0)
    assert m["n_test"] == 8 and 0.5 < m["auc"] <= 1.0 and loo.shape == (8,)
    # data contradicting the hypothesis: no slope, p = 0.5 everywhere
    flat = fit_calibrator(s, 1 - y)
    assert flat.coef == 0.0 and flat.probability(2.0) == 0.5


# ----------------------------------------------------------------------------- augmentation + calibration


def _eye(seed=0, closed=False):
    import cv2

    rng = np.random.default_rng(seed)
    img = np.full((EYE_CROP_SIZE, EYE_CROP_SIZE), int(rng.integers(120, 180)), np.uint8)
    c = EYE_CROP_SIZE // 2
    if closed:
        cv2.line(img, (c - 10, c), (c + 10, c), 40, 2)
    else:
        cv2.ellipse(img, (c, c), (11, 6), 0, 0, 360, 230, -1)
        cv2.circle(img, (c, c), 4, 25, -1)
    return img


def _hf_energy(img):
    f = img.astype(np.float32)
    return float(np.abs(np.diff(f, axis=0)).mean() + np.abs(np.diff(f, axis=1)).mean())


def test_augment_is_deterministic_and_keeps_format():
    from forensics_plugins.blink_lrcn.train import AUGMENT_MODES, augment

    eye = _eye()
    a = augment(eye, np.random.default_rng(3))
    b = augment(eye, np.random.default_rng(3))
    assert np.array_equal(a, b) and a.shape == eye.shape and a.dtype == np.uint8
    assert not np.array_equal(a, augment(eye, np.random.default_rng(4)))
    assert set(AUGMENT_MODES) == {"ir_like", "blur", "low_light", "low_res"}
    colour = np.stack([eye, np.clip(eye.astype(int) + 40, 0, 255).astype(np.uint8), eye // 2], -1)
    c1 = augment(eye, np.random.default_rng(5), colour=colour)
    assert np.array_equal(c1, augment(eye, np.random.default_rng(5), colour=colour))
    assert c1.shape == eye.shape and c1.dtype == np.uint8


def test_channel_mix_jpeg_and_low_res():
    from forensics_plugins.blink_lrcn.train import LOW_RES_PX, channel_mix, jpeg, low_res

    eye = _eye()
    grey3 = np.repeat(eye[..., None], 3, -1)
    # grey input: any weights summing to one give the same grey back
    for k in range(5):
        assert np.abs(channel_mix(grey3, np.random.default_rng(k)).astype(int) - eye).max() <= 1
    # colour input: deterministic for a seed, in range, and the weights vary between draws
    colour = np.zeros(eye.shape + (3,), np.uint8)
    colour[..., 0] = 200  # pure red
    outs = [channel_mix(colour, np.random.default_rng(k)) for k in range(40)]
    assert np.array_equal(outs[0], channel_mix(colour, np.random.default_rng(0)))
    vals = np.array([o.mean() for o in outs])
    assert all(o.shape == eye.shape and o.dtype == np.uint8 for o in outs)
    assert vals.min() < 120 and (vals >= 0.6 * 200 - 1).sum() >= 10  # red-dominant (NIR-like) draws are common
    j = jpeg(eye, np.random.default_rng(0))
    assert j.shape == eye.shape and j.dtype == np.uint8 and not np.array_equal(j, eye)
    # low resolution: the down-sampled side lies in LOW_RES_PX (measured by how many distinct rows survive)
    assert LOW_RES_PX == (8, 16)
    noise = np.random.default_rng(1).integers(0, 256, eye.shape).astype(np.uint8)
    for k in range(10):
        lr = low_res(noise, np.random.default_rng(k))
        assert lr.shape == eye.shape and _hf_energy(lr) < 0.8 * _hf_energy(noise)


def test_sampling_weights_balance_classes_and_sources():
    from forensics_plugins.blink_lrcn.train import sampling_weights

    labels = np.array([0] * 900 + [0] * 100 + [1] * 50)
    sources = np.array(["big"] * 900 + ["small"] * 100 + ["c"] * 50)
    w = sampling_weights(labels, sources)
    assert w.sum() == pytest.approx(1.0)
    assert w[labels == 1].sum() == pytest.approx(0.5)  # both classes equally likely
    big, small = w[sources == "big"].sum(), w[sources == "small"].sum()
    assert big / small == pytest.approx(3.0)  # sqrt(900) / sqrt(100)


def test_state_metrics_give_an_accuracy_interval_over_images():
    from forensics_plugins.blink_lrcn.train import _state_metrics

    rng = np.random.default_rng(0)
    y = np.repeat(rng.integers(0, 2, 100), 2)
    p = np.where(rng.random(200) < 0.9, y, 1 - y) * 0.8 + 0.1
    m = _state_metrics(y, p, np.repeat(np.arange(100), 2))
    lo, hi = m["accuracy_ci95"]
    assert lo < m["accuracy"] < hi and hi - lo < 0.2 and m["n_images"] == 100 and m["n_test"] == 200


def test_augment_modes_do_what_they_say():
    from forensics_plugins.blink_lrcn.train import blurred, ir_like, low_light, low_res

    eye = _eye()
    rng = np.random.default_rng(0)
    dark = [low_light(eye, rng) for _ in range(5)]
    assert all(d.mean() < 0.5 * eye.mean() for d in dark)  # low light: at most 45 % of the brightness
    assert all(_hf_energy(blurred(eye, rng)) < _hf_energy(eye) for _ in range(5))
    assert all(_hf_energy(low_res(eye, rng)) < _hf_energy(eye) for _ in range(5))
    ir = [ir_like(eye, rng) for _ in range(8)]
    assert all(x.dtype == np.uint8 and x.shape == eye.shape for x in ir)
    assert np.std([x.mean() for x in ir]) > 5  # a wide spread of IR-like exposure / contrast
    # the label-bearing structure survives: a dark pupil stays darker than the eye's surroundings
    c = EYE_CROP_SIZE // 2
    assert all(int(x[c, c]) <= int(np.median(x)) for x in ir)


def test_calibrate_linear_folds_platt_into_the_head_and_refuses_a_flipped_sign():
    import torch

    from forensics_plugins.blink_lrcn.train import calibrate_linear

    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(-1, 1, 200), rng.normal(3, 1, 200)])  # threshold off: centre at 1
    y = np.r_[np.zeros(200), np.ones(200)].astype(int)
    lin = torch.nn.Linear(1, 1)
    with torch.no_grad():
        lin.weight.fill_(1.0)
        lin.bias.fill_(0.0)
    out = calibrate_linear(lin, z, y)
    assert out["applied"] and out["a"] > 0
    with torch.no_grad():
        z2 = lin(torch.tensor(z, dtype=torch.float32)[:, None]).numpy().ravel()
    assert abs(np.mean((z2 > 0) == y) - 0.96) < 0.04 and abs(float(np.median(z2[np.abs(z - 1) < 0.2]))) < 0.5
    lin2 = torch.nn.Linear(1, 1)
    w0 = lin2.weight.detach().clone()
    assert calibrate_linear(lin2, z, 1 - y)["applied"] is False and torch.equal(lin2.weight, w0)


def test_balanced_subset_gives_equal_strata():
    from forensics_plugins.blink_lrcn.train import balanced_subset

    labels = np.array([0] * 50 + [1] * 10 + [1] * 30)
    sources = np.array(["a"] * 60 + ["b"] * 30)
    idx = balanced_subset(labels, sources, np.random.default_rng(0))
    strata = {(s, int(y)) for s, y in zip(sources[idx], labels[idx])}
    assert len(idx) == 30 and len(strata) == 3


# ----------------------------------------------------------------------------- the detector


class FakeMedia:
    def __init__(self, fa, duration):
        self.fa, self.duration = fa, duration

    def shared(self, key, compute):
        assert key == "faces"
        return self.fa

    def video_info(self):
        from forensics.media import VideoInfo

        return VideoInfo(224, 224, self.fa.fps, self.fa.frames_sampled, self.duration, "h264")


def fake_analysis(seconds: float, fps: float, blink_frames=(), yaw_squash: float = 1.0):
    """A FaceAnalysis of one track whose landmarks close the eyes on ``blink_frames``."""
    from forensics.faces import FaceAnalysis, FaceObservation, FaceTrack

    n = int(round(seconds * fps))
    closed = np.zeros(n, bool)
    closed[list(blink_frames)] = True
    imgs = {c: draw_face(face_landmarks(0.06 if c else 0.3, yaw_squash=yaw_squash), c) for c in (False, True)}
    obs = []
    for i in range(n):
        lm = face_landmarks(0.06 if closed[i] else 0.3, yaw_squash=yaw_squash).astype(np.float32)
        obs.append(FaceObservation(frame_index=i, time_s=i / fps, box=(30.0, 40.0, 170.0, 180.0), landmarks=lm,
                                   crop=imgs[bool(closed[i])], crop_landmarks=lm,
                                   matrix=np.array([[1.0, 0, 0], [0, 1.0, 0]]), detected=True))
    return FaceAnalysis(tracks=[FaceTrack(0, obs)], frames_sampled=n, fps=fps, duration_s=n / fps, width=224,
                        height=224, stride=1)


def _item(kind="video"):
    from forensics.case import EvidenceItem

    return EvidenceItem(id="x", path="/nonexistent", relpath="x", kind=kind, format="mp4" if kind == "video" else "jpeg")


@pytest.fixture
def detector():
    from forensics_plugins.blink_lrcn import BlinkDetector

    return BlinkDetector()


def test_still_image_not_applicable(detector):
    assert "still image" in detector.not_applicable_reason(_item("image"))
    assert detector.not_applicable_reason(_item("video")) is None


def test_short_clip_is_inconclusive_with_plot(detector):
    fa = fake_analysis(3.0, 15.0, blink_frames=[20, 21])
    f = detector.analyze(_item(), FakeMedia(fa, 3.0))
    assert f.status.value == "inconclusive"
    assert f.reason.startswith(f"clip shorter than {MIN_CLIP_S:.0f} s")
    assert f.probability is None
    assert any(a.slug.startswith("blink-timeline") and a.png.startswith(b"\x89PNG") for a in f.artifacts)
    tr = f.details["tracks"][0]
    assert tr["ear_baseline"]["blinks"] == 1 and not tr["judged"]


def test_profile_face_says_eyes_not_visible(detector):
    fa = fake_analysis(12.0, 15.0, yaw_squash=0.3)
    f = detector.analyze(_item(), FakeMedia(fa, 12.0))
    assert f.status.value == "inconclusive" and "eyes not visible" in f.reason and "profile" in f.reason


def test_long_clip_counts_ear_blinks_and_reports_norms(detector):
    blinks = [f for start in (30, 90, 150) for f in (start, start + 1, start + 2)]
    fa = fake_analysis(12.0, 15.0, blink_frames=blinks)
    f = detector.analyze(_item(), FakeMedia(fa, 12.0))
    assert f.status.value in ("ran", "inconclusive", "unavailable")
    tr = f.details["tracks"][0]
    assert tr["judged"] and tr["ear_baseline"]["blinks"] == 3
    assert tr["ear_baseline"]["rate_per_min"] == pytest.approx(15.0)
    assert f.details["human_norms"]["rate_rest_per_min"] == 17.0
    assert "Bentivoglio" in f.summary
    if f.status.value == "ran":
        assert 0.0 <= f.probability <= 1.0 and f.error_rate and "auc" in f.error_rate


def test_demo_face_clip_is_inconclusive_with_plot(tmp_path):
    from forensics.engine import analyze_case

    case = tmp_path / "case"
    case.mkdir()
    shutil.copy(REPO / "cases" / "demo" / "face_clip.mp4", case / "face_clip.mp4")
    res = analyze_case(case, out_dir=tmp_path / "out", detectors=["blink_lrcn"])
    (item,) = [i for i in res.document["items"] if i["path"] == "face_clip.mp4"]
    (f,) = [f for f in item["findings"] if f["detector"] == "blink_lrcn"]
    assert f["status"] == "inconclusive", f
    assert f["reason"].startswith(f"clip shorter than {MIN_CLIP_S:.0f} s")
    assert any("timeline" in a["title"].lower() for a in f["artifacts"])


@pytest.mark.skipif(not (SHARED / "eye_state_eyecrop").is_dir(), reason="../shared/data not present")
def test_shipped_model_on_real_eye_crops():
    """Optional: the shipped CNN on a sample of the real eye-crop data (part of it was training data)."""
    from forensics.models import load_card
    from forensics_plugins.blink_lrcn.data import eye_crop_image, list_images
    from forensics_plugins.blink_lrcn.lrcn import eye_state, load_weights

    model = load_weights(load_card("blink_lrcn").path("weights"))
    correct = 0
    total = 0
    for label in ("open", "closed"):
        paths = list_images(SHARED / "eye_state_eyecrop" / label)[::25]
        crops = np.stack([np.stack([c, c]) for c in (eye_crop_image(p) for p in paths)])
        _p, p_cnn = eye_state(model, crops)
        correct += int(((p_cnn >= 0.5) == (label == "closed")).sum())
        total += len(paths)
    assert correct / total > 0.85


def _install_calibrated(tmp_path, metrics):
    from forensics.api import write_model_card
    from forensics.models import builtin_models_dir

    d = tmp_path / "models" / "blink_lrcn"
    d.mkdir(parents=True)
    shutil.copy(builtin_models_dir() / "blink_lrcn" / "lrcn.safetensors", d / "lrcn.safetensors")
    (d / "blink_calibrator.json").write_text(json.dumps({"feature": "low_blink_surprise", "coef": 1.0,
                                                         "intercept": -1.0, "calibrated": True}))
    write_model_card(d, {"name": "blink_lrcn", "version": "test", "metrics": metrics,
                         "files": {"weights": {"path": "lrcn.safetensors"},
                                   "calibrator": {"path": "blink_calibrator.json"}}})
    return d


@pytest.mark.parametrize("ci, kind, votes", [([0.1, 0.45], "cross-source", False), ([0.3, 0.8], "cross-source", False),
                                             ([0.62, 0.9], "in-source", False), ([0.62, 0.9], "cross-source", True)])
def test_detector_votes_only_when_the_interval_excludes_chance(tmp_path, monkeypatch, detector, ci, kind, votes):
    from forensics.models import builtin_models_dir

    if not (builtin_models_dir() / "blink_lrcn" / "lrcn.safetensors").is_file():
        pytest.skip("no shipped blink weights")
    m = {"auc": float(np.mean(ci)), "auc_ci95": ci, "n_test": 33, "n_test_positive": 23, "n_test_negative": 10,
         "kind": kind}
    _install_calibrated(tmp_path, m)
    monkeypatch.setenv("FORENSICS_MODELS_PATH", str(tmp_path / "models"))
    blinks = [f for start in (30, 90, 150) for f in (start, start + 1, start + 2)]
    f = detector.analyze(_item(), FakeMedia(fake_analysis(12.0, 15.0, blink_frames=blinks), 12.0))
    if votes:
        assert f.status.value == "ran" and 0 <= f.probability <= 1
    else:
        assert f.status.value == "inconclusive" and f.probability is None
        assert f.reason.startswith("does not vote") and f"{ci[0]:.2f}" in f.reason
        assert 0 <= f.details["vote"]["probability_if_it_voted"] <= 1 and f.score is not None
