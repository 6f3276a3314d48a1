"""rPPG detector: signal extraction on synthetic pulses, features, SVM round trip, detector gates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from forensics_plugins.rppg import features as F
from forensics_plugins.rppg import signals as S
from forensics_plugins.rppg.regions import REGIONS
from forensics_plugins.rppg.svm import RbfSvm, fit_svm, platt_from_calibrator
from forensics_plugins.rppg.train import cross_validate, identity_groups, list_samples

SKIN = np.array([168.0, 122.0, 100.0])
PULSE = np.array([0.33, 0.77, 0.53])  # de Haan's standardised blood-volume-pulse signature


def pulse_frames(f0_hz: float, seconds: float = 10.0, fps: float = 30.0, size: int = 48, amp: float = 0.006,
                 seed: int = 0):
    """Frames of a skin patch whose colour beats at ``f0_hz`` along the blood-volume direction,
    with slow lighting drift, camera noise per pixel and 8-bit quantisation."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * fps))
    t = np.arange(n) / fps
    texture = rng.normal(0, 6, (size, size, 1))
    for i in range(n):
        light = 1 + 0.03 * np.sin(2 * np.pi * 0.12 * t[i] + 1.0)
        colour = SKIN * light * (1 + amp * np.sin(2 * np.pi * f0_hz * t[i]) * PULSE)
        img = colour[None, None, :] + texture + rng.normal(0, 3, (size, size, 3))
        yield t[i], np.clip(np.round(img), 0, 255).astype(np.uint8)


def trace_of(f0_hz: float, fps: float = 30.0, seed: int = 0, seconds: float = 10.0):
    ts, rgb = zip(*((t, S.skin_pixels_mean(img)) for t, img in pulse_frames(f0_hz, seconds, fps, seed=seed)))
    return np.array(ts), np.array(rgb)


# ---------------------------------------------------------------------------- signals


@pytest.mark.parametrize("method", S.METHODS)
@pytest.mark.parametrize("f0_hz, fps", [(0.9, 30.0), (1.25, 30.0), (1.8, 15.0), (2.4, 30.0)])
def test_methods_recover_known_pulse_within_2_bpm(method, f0_hz, fps):
    t, rgb = trace_of(f0_hz, fps, seed=int(f0_hz * 10))
    _, u = S.resample_uniform(t, rgb, S.FS)
    hr, snr = S.heart_rate(S.extract(u, S.FS, method), S.FS)
    assert abs(hr - 60 * f0_hz) < 2.0, (method, hr, 60 * f0_hz)
    assert snr > 0


def test_region_clip_on_disk(tmp_path):
    """The extraction layer reads skin-region clips directly (as in rPPG benchmark data)."""
    import av

    path = tmp_path / "forehead.mkv"
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("ffv1", rate=15)
        stream.width = stream.height = 48
        stream.pix_fmt = "bgr0"
        for _, img in pulse_frames(1.3, seconds=12, fps=15):
            for p in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="bgr0")):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)
    t, rgb, fps = S.trace_from_video(str(path))
    assert fps == 15 and len(t) == 180 and rgb.shape == (180, 3)
    hrs = S.clip_heart_rates(t, rgb)
    for m in S.METHODS:
        assert abs(hrs[m]["hr_bpm"] - 78.0) < 2.0, (m, hrs[m])


def test_noise_and_constant_give_finite_signals():
    rng = np.random.default_rng(1)
    for rgb in (np.full((200, 3), 120.0), 120 + rng.normal(0, 1, (200, 3)), np.zeros((200, 3))):
        for m in S.METHODS:
            x = S.extract(rgb, S.FS, m)
            assert x.shape == (200,) and np.isfinite(x).all()


def test_skin_pixels_mean_drops_dark_and_saturated():
    img = np.full((10, 10, 3), 100, np.uint8)
    img[:2] = 0
    img[2:4] = 255
    assert np.allclose(S.skin_pixels_mean(img), 100)
    mask = np.zeros((10, 10), bool)
    assert np.isnan(S.skin_pixels_mean(img, mask)).all()


def test_detrend_removes_slow_trend_keeps_pulse():
    t = np.arange(600) / 30
    pulse = np.sin(2 * np.pi * 1.2 * t)
    x = S.detrend(pulse + 5 * t / t[-1], 30)
    assert abs(np.corrcoef(x, pulse)[0, 1]) > 0.98


# ---------------------------------------------------------------------------- features


def _region_rgb(n: int, rng, pulse_hz: float | None, fps: float = 30.0):
    t = np.arange(n) / fps
    out = np.empty((n, len(REGIONS), 3))
    for r in range(len(REGIONS)):
        beat = 0.004 * np.sin(2 * np.pi * pulse_hz * t)[:, None] * PULSE if pulse_hz else 0.0
        out[:, r] = SKIN * (1 + beat) + rng.normal(0, 0.15, (n, 3))
    return t, out


def test_features_finite_on_noise_and_consistent_on_pulse():
    rng = np.random.default_rng(2)
    t, noise = _region_rgb(240, rng, None)
    cells = noise[:, :4].repeat(4, axis=1)
    noise_wins = F.track_features(F.track_signals(t, noise, cells))
    assert len(noise_wins) == 4  # 8 s: windows at 0, 1, 2, 3 s
    X = np.stack([w.features for w in noise_wins])
    assert X.shape == (4, len(F.FEATURES)) and np.isfinite(X).all()
    t, beat = _region_rgb(240, rng, 1.2)
    wins = F.track_features(F.track_signals(t, beat, beat[:, :4].repeat(4, axis=1)))
    P = np.stack([w.features for w in wins])
    i = {k: j for j, k in enumerate(F.FEATURES)}
    assert P[:, i["chrom_pair_corr"]].mean() > X[:, i["chrom_pair_corr"]].mean() + 0.3
    assert P[:, i["chrom_snr_db"]].mean() > X[:, i["chrom_snr_db"]].mean()
    assert P[:, i["chrom_hr_spread_bpm"]].mean() < 2.0
    assert all(abs(w.hr_bpm["chrom"] - 72) < 3 for w in wins)


def test_features_finite_with_missing_regions_and_constant_colour():
    n = 180
    t = np.arange(n) / 30
    rgb = np.full((n, len(REGIONS), 3), 130.0)
    rgb[:, 0] = np.nan  # forehead never visible
    rgb[::6, 1] = np.nan  # a cheek missing in a sixth of the frames (interpolated)
    ts = F.track_signals(t, rgb, None)
    assert "forehead" not in ts.regions and "left_cheek" in ts.regions
    X = np.stack([w.features for w in F.track_features(ts)])
    assert np.isfinite(X).all()


def test_short_track_has_no_window():
    rng = np.random.default_rng(0)
    t, rgb = _region_rgb(int(4.9 * 30), rng, 1.0)
    assert F.track_features(F.track_signals(t, rgb)) == []


# ---------------------------------------------------------------------------- SVM


def _toy(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, (n, len(F.FEATURES)))
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 + 0.3 * rng.normal(size=n) > 0.5).astype(int)
    return X, y


def test_svm_matches_sklearn_and_round_trips_through_json():
    from sklearn.svm import SVC

    X, y = _toy()
    m = fit_svm(X, y, F.FEATURES)
    Z = m.standardise(X)
    ref = SVC(C=1.0, kernel="rbf", gamma="scale").fit(Z, y).decision_function(Z)
    assert np.allclose(m.decision(X), ref, atol=1e-8)
    m.platt_a, m.platt_b = platt_from_calibrator(m.decision(X), y)
    text = json.dumps(m.to_json())
    m2 = RbfSvm.from_json(json.loads(text))
    assert np.array_equal(m2.decision(X), m.decision(X))
    assert m2.probability_from_score(2.0) > 0.5 > m2.probability_from_score(-2.0)
    # deterministic: a second fit is identical
    assert json.dumps(fit_svm(X, y, F.FEATURES).to_json()) == json.dumps(fit_svm(X, y, F.FEATURES).to_json())
    with pytest.raises(ValueError):
        RbfSvm.from_json({**json.loads(text), "format": "pickle"})


def test_platt_is_monotone_and_calibrated_on_separable_scores():
    s = np.array([-3, -2, -1.5, -1, 1, 1.5, 2, 3.0])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    a, b = platt_from_calibrator(s, y)
    p = 1 / (1 + np.exp(a * s + b))
    assert a < 0 and np.all(np.diff(p) > 0) and p[0] < 0.2 and p[-1] > 0.8


def test_platt_sign_comes_from_data_never_flipped():
    """Scores that point the wrong way (fakes lower) give the constant 0.5, not a flipped slope."""
    s = np.array([-3, -2, -1.5, -1, 1, 1.5, 2, 3.0])
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    assert platt_from_calibrator(s, y) == (0.0, 0.0)
    m = RbfSvm(F.FEATURES[:1], np.zeros(1), np.ones(1), np.zeros(1), np.ones(1), np.zeros((1, 1)), np.zeros(1), 0.0,
               1.0, 0.0, 0.0)
    assert m.probability_from_score(5.0) == 0.5


def test_rppg_uses_the_shared_metrics_and_calibrator():
    import forensics_plugins.rppg.svm as svm
    import forensics_plugins.rppg.train as tr

    assert not hasattr(tr, "roc_metrics") and not hasattr(svm, "fit_platt")
    m = tr.video_metrics(np.array([0, 0, 1, 1, 0, 1]), np.array([-1.0, -0.5, 0.5, 1.0, 0.2, -0.1]))
    assert m["auc"] == pytest.approx(8 / 9, abs=1e-4) and len(m["auc_ci95"]) == 2


# ---------------------------------------------------------------------------- heart-rate estimator
def _pulse(f0, seconds=30.0, fs=30.0, harmonic=0.0, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    x = np.sin(2 * np.pi * f0 * t) + harmonic * np.sin(2 * np.pi * 2 * f0 * t + 0.4)
    return x + noise * rng.normal(size=len(t))


def moving_skin_traces(f0_hz: float | None, seconds: float = 30.0, fps: float = 15.0, size: int = 40,
                       amp: float = 0.004, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Mean-colour traces of three face-like skin regions (forehead / cheeks, different tones) whose pixels beat at
    ``f0_hz`` along the blood-volume direction (``None``: no pulse), with head motion (the skin texture and a dark
    hair/background edge slide in and out), lighting drift, frame-level brightness flicker, camera noise per pixel
    and 8-bit quantisation -- every frame is averaged by :func:`S.skin_pixels_mean` as in the detector."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * fps))
    t = np.arange(n) / fps
    tones = {"forehead": [172.0, 126.0, 104.0], "left_cheek": [160.0, 112.0, 92.0], "right_cheek": [150.0, 104.0, 86.0]}
    big = size + 16
    yy, xx = np.mgrid[0:big, 0:big]
    dx = 5 * np.sin(2 * np.pi * 0.23 * t + 0.3) + 2 * np.sin(2 * np.pi * 0.71 * t)  # head motion, px
    dy = 3 * np.sin(2 * np.pi * 0.17 * t + 1.1)
    flicker = rng.normal(0, 0.01, n)  # frame-level brightness flicker (1 %)
    light = 1 + 0.05 * np.sin(2 * np.pi * 0.07 * t)  # slow lighting drift
    pulse = np.zeros(n) if f0_hz is None else np.sin(2 * np.pi * f0_hz * t)
    traces = {}
    for r, (name, tone) in enumerate(tones.items()):
        texture = rng.normal(0, 8, (big, big, 1)) + 10 * np.sin(xx / 5.0 + r)[..., None]
        edge = (yy + 0.4 * xx) < 10 + 3 * r  # a dark edge (hair, background) in one corner
        rows = []
        for i in range(n):
            ox, oy = int(round(8 + dx[i])), int(round(8 + dy[i]))
            tex, dark = texture[oy:oy + size, ox:ox + size], edge[oy:oy + size, ox:ox + size]
            colour = np.array(tone) * light[i] * (1 + flicker[i]) * (1 + amp * pulse[i] * PULSE)
            img = colour[None, None, :] + tex + rng.normal(0, 4, (size, size, 3))
            img[dark] = 4.0
            rows.append(S.skin_pixels_mean(np.clip(np.round(img), 0, 255).astype(np.uint8)))
        traces[name] = np.array(rows)
    return t, traces


def test_estimator_recovers_72_bpm_from_moving_noisy_face_like_regions():
    t, traces = moving_skin_traces(1.2, seed=3)
    est = S.estimate_from_traces(t, traces)  # the default setting: POS, 12 s windows
    assert est["reliable"], est
    assert abs(est["hr_bpm"] - 72) <= 3, est
    assert est["clean_windows"] >= 0.5 * est["windows"] and set(est["region_weights"]) == set(traces)


def test_pure_noise_is_flagged_unreliable():
    for seed in (0, 1, 2):
        t, traces = moving_skin_traces(None, seed=seed)
        est = S.estimate_from_traces(t, traces)
        assert not est["reliable"] and est["unreliable_reason"], est
    white = {"a": np.random.default_rng(5).normal(size=900), "b": np.random.default_rng(6).normal(size=900)}
    assert not S.estimate_heart_rate(white, 30.0)["reliable"]


@pytest.mark.parametrize("f0", [0.9, 1.3, 2.0])
def test_estimator_recovers_clean_pulse(f0):
    est = S.estimate_heart_rate({"a": _pulse(f0), "b": _pulse(f0, seed=1, noise=0.3)}, 30.0)
    assert abs(est["hr_bpm"] - 60 * f0) < 1.5 and est["reliable"] and est["snr_db"] > 3


def test_harmonic_dominated_pulse_is_not_read_at_double_rate():
    """A pulse whose second harmonic out-peaks the fundamental (a dicrotic waveform): the check recovers f0;
    without it the estimate is the harmonic. A fast pulse without a sub-harmonic is not halved."""
    sig = {"a": _pulse(1.1, harmonic=1.4, noise=0.2)}
    on = S.estimate_heart_rate(sig, 30.0)
    off = S.estimate_heart_rate(sig, 30.0, S.HREstimatorConfig(harmonic_ratio=0.0))
    assert abs(on["hr_bpm"] - 66) < 2 and on["reliable"]
    assert abs(off["hr_bpm"] - 132) < 2
    fast = S.estimate_heart_rate({"a": _pulse(2.0, harmonic=0.3, noise=0.3)}, 30.0)
    assert abs(fast["hr_bpm"] - 120) < 2


def test_estimator_fusion_weights_regions_by_quality():
    """One clean region and two strong noisy ones: SNR weighting follows the clean one."""
    sig = {"clean": _pulse(1.25, noise=0.5), "noise1": 3 * _pulse(2.6, noise=4.0, seed=3),
           "noise2": 3 * _pulse(0.8, noise=4.0, seed=4)}
    est = S.estimate_heart_rate(sig, 30.0, S.HREstimatorConfig(weighting="snr"))
    assert abs(est["hr_bpm"] - 75) < 2
    assert est["region_weights"]["clean"] > max(est["region_weights"]["noise1"], est["region_weights"]["noise2"])


def test_tracking_and_disagreeing_windows():
    """A pulse that jumps from 66 to 120 bpm half-way: the windows disagree, so the estimate is unreliable."""
    x = np.concatenate([_pulse(1.1, seconds=30.0, noise=0.2), _pulse(2.0, seconds=30.0, noise=0.2, seed=2)])
    est = S.estimate_heart_rate({"a": x}, 30.0)
    assert not est["reliable"] and "disagree" in est["unreliable_reason"]


def test_estimator_refuses_short_signals():
    short = S.estimate_heart_rate({"a": _pulse(1.2, seconds=3.0)}, 30.0)
    assert short["hr_bpm"] is None and not short["reliable"]
    assert S.estimate_heart_rate({}, 30.0)["hr_bpm"] is None


def test_estimator_on_traces_from_skin_patches():
    t, rgb = trace_of(1.3, fps=15.0, seconds=20.0)
    est = S.estimate_from_traces(t, {"forehead": rgb, "cheek": rgb[::-1][::-1]}, S.HREstimatorConfig(method="pos"))
    assert abs(est["hr_bpm"] - 78) < 2
    every = S.estimate_from_traces(t, {"forehead": rgb}, S.HREstimatorConfig(method="all"))
    assert abs(every["hr_bpm"] - 78) < 2 and set(every["region_weights"]) == {f"forehead/{m}" for m in S.METHODS}


def test_harmonic_sum_prefers_the_peak_that_has_its_double():
    """Subharmonic summation: a pulse at 1.2 Hz with power at 2.4 Hz beats a slightly higher lone noise peak at
    0.9 Hz, which the plain spectrum picks."""
    f = np.arange(0.5, 6.0, 0.01)

    def bump(c, h):
        return h * np.exp(-0.5 * ((f - c) / 0.03) ** 2)

    p = 0.02 + bump(1.2, 1.0) + bump(2.4, 0.6) + bump(0.9, 1.2)
    assert abs(S.harmonic_check(f, p, (0.7, 3.0), 0.0) - 0.9) < 0.02
    assert abs(S.harmonic_check(f, p, (0.7, 3.0), 0.0, harmonic_weight=0.5) - 1.2) < 0.02
    assert np.array_equal(S.harmonic_sum(f, p, 0.0), p)


@pytest.mark.parametrize("f0", [1.0, 1.4])
def test_harmonic_sum_estimate_recovers_a_noisy_pulse_with_harmonic(f0):
    """Three noisy regions of a pulse with a second harmonic, through the estimator with harmonic-sum peak picking
    and either aggregation: within 2 bpm of the true rate."""
    sig = {r: _pulse(f0, seconds=40.0, harmonic=0.6, noise=1.5, seed=i) for i, r in enumerate("abc")}
    for aggregate in ("median", "spectrum"):
        cfg = S.HREstimatorConfig(method="chrom", window_s=8.0, harmonic_weight=0.5, aggregate=aggregate)
        est = S.estimate_heart_rate(sig, 30.0, cfg)
        assert abs(est["hr_bpm"] - 60 * f0) < 2, (aggregate, est)


def test_harmonic_sum_does_not_make_noise_reliable():
    cfg = S.HREstimatorConfig(method="chrom", window_s=8.0, harmonic_weight=0.5, aggregate="spectrum")
    for seed in (0, 1, 2):
        rng = np.random.default_rng(100 + seed)
        white = {r: rng.normal(size=1200) for r in "abc"}
        assert not S.estimate_heart_rate(white, 30.0, cfg)["reliable"]


def test_setting_from_an_older_card_ignores_unknown_keys():
    cfg = S.HREstimatorConfig.from_json({"method": "chrom", "band_hz": [0.7, 3.0], "snr_floor_db": -3.0})
    assert cfg.method == "chrom" and cfg.band_hz == (0.7, 3.0)
    assert S.HREstimatorConfig.from_json(cfg.to_json()) == cfg


def test_heart_rate_sentence_only_when_reliable_and_with_measured_error():
    from forensics_plugins.rppg import RPPGDetector

    hr = {"hr_bpm": 72.0, "snr_db": 4.0, "reliable": True, "method": "pos"}
    assert "No heart rate is stated" in RPPGDetector._hr_sentence(hr)
    err = {"mae_bpm": 6.9, "mae_ci95": [3.8, 9.4], "n_test_subjects": 7, "baseline_median_guess_mae_bpm": 6.8,
           "target_met": False, "n_reliable_test_subjects": 4, "reliable_mae_bpm": 3.0, "reliable_mae_ci95": [1.0, 5.0]}
    ok = RPPGDetector._hr_sentence({**hr, "measured_error": err})
    assert "72 bpm" in ok and "3.0 bpm" in ok and "1.0–5.0" in ok and "4 subjects" in ok and "rely" not in ok
    bad = RPPGDetector._hr_sentence({**hr, "measured_error": {**err, "reliable_mae_bpm": 9.0}})
    assert "72 bpm" in bad and "do not rely" in bad
    few = RPPGDetector._hr_sentence({**hr, "measured_error": {**err, "n_reliable_test_subjects": 0,
                                                               "reliable_mae_bpm": None}})
    assert "72" not in few and "No heart rate is stated" in few
    unrel = RPPGDetector._hr_sentence({**hr, "reliable": False, "unreliable_reason": "low SNR", "measured_error": err})
    assert "72" not in unrel and "unreliable (low SNR)" in unrel
    old = {k: v for k, v in err.items() if not k.startswith(("reliable", "n_reliable"))}
    assert "72" not in RPPGDetector._hr_sentence({**hr, "measured_error": old})


def test_grouped_cross_validation_keeps_groups_apart():
    X, y = _toy(160, seed=3)
    vid = np.repeat(np.arange(32), 5).astype(str)
    y = np.repeat((np.arange(32) % 2), 5)
    X[:, 0] += 2.0 * y  # videos of class 1 are shifted
    groups = np.repeat(np.arange(32) // 4, 5).astype(str)
    cv = cross_validate(X, y, vid, groups)
    assert np.isfinite(cv["score"]).all() and np.isfinite(cv["prob"]).all()
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(cv["y"], cv["score"]) > 0.8


def test_identity_groups_from_faceforensics_names(tmp_path):
    names = ["X__183_253", "X__183_253_1", "X__253", "X__183", "X__469_481_2", "X__481", "X__08__podium",
             "X__08__wall", "X__01__kitchen", "clip"]
    g = identity_groups(names)
    assert g[0] == g[1] == g[2] == g[3] == "183+253"
    assert g[4] == g[5] == "469+481"
    assert g[6] == g[7] == "08" and g[8] == "01" and g[9] == "clip"
    for label in ("real", "fake"):
        (tmp_path / label).mkdir()
    (tmp_path / "real" / "a__183.mp4").write_bytes(b"")
    (tmp_path / "fake" / "a__183_253.mp4").write_bytes(b"")
    (tmp_path / "fake" / "notes.txt").write_bytes(b"")
    s = list_samples(tmp_path)
    assert [(x.path.name, x.label, x.group) for x in s] == [("a__183_253.mp4", 1, "183+253"), ("a__183.mp4", 0, "183+253")]
    (tmp_path / "labels.csv").write_text("path,label,group\nreal/a__183.mp4,real,g1\nfake/a__183_253.mp4,1,g1\n")
    assert [(x.label, x.group) for x in list_samples(tmp_path)] == [(1, "g1"), (0, "g1")]


# ---------------------------------------------------------------------------- detector


def test_still_image_not_applicable_and_short_clip_inconclusive(make_case, tmp_path):
    import skimage.data
    from conftest import item_by_path, jpeg_bytes

    from forensics.demo import face_video_frames, write_mp4
    from forensics.engine import analyze_case

    clip = tmp_path / "clip.mp4"
    write_mp4(clip, face_video_frames(45), fps=15, codec="mpeg4")
    case = make_case({"face.jpg": jpeg_bytes(skimage.data.astronaut()), "clip.mp4": clip.read_bytes()})
    doc = analyze_case(case, detectors=["rppg"]).document
    f = item_by_path(doc, "face.jpg")["findings"][0]
    assert f["status"] == "not_applicable"
    f = item_by_path(doc, "clip.mp4")["findings"][0]
    assert f["status"] == "inconclusive" and "clip shorter than 5 s" in f["reason"]
    assert f["probability"] is None
    titles = [a["title"] for a in f["artifacts"]]
    assert "rPPG signals per region" in titles and "rPPG spectra and heart rate" in titles
    assert f["details"]["spectral_peaks"]["chrom"]["hr_bpm"] is not None
    assert "heart_rate" in f["details"]
    hr = f["details"]["heart_rate"]
    assert not hr["reliable"] and "Estimated heart rate" not in json.dumps(f)  # a 3 s clip states no heart rate


def test_long_face_clip_runs_windows(make_case, tmp_path):
    """A 6 s clip of a portrait whose skin beats: one or more windows, figures, a finding that is
    either scored (model installed) or 'unavailable' with the signals (no model)."""
    from conftest import item_by_path

    from forensics.demo import face_video_frames, write_mp4
    from forensics.engine import analyze_case

    def beating():
        for i, rgb in enumerate(face_video_frames(90)):
            gain = 1 + 0.01 * np.sin(2 * np.pi * 1.2 * i / 15) * PULSE
            yield np.clip(rgb * gain, 0, 255).astype(np.uint8)

    clip = tmp_path / "long.mp4"
    write_mp4(clip, beating(), fps=15, codec="mpeg4")
    doc = analyze_case(make_case({"long.mp4": clip.read_bytes()}), detectors=["rppg"]).document
    f = item_by_path(doc, "long.mp4")["findings"][0]
    assert f["status"] in ("ran", "unavailable", "inconclusive"), f["reason"]
    if f["status"] == "inconclusive":  # a model whose cross-source interval includes 0.5 does not vote
        assert f["reason"].startswith("does not vote") and "95 % CI" in f["reason"] and f["probability"] is None
    assert "rPPG spatial and temporal consistency" in [a["title"] for a in f["artifacts"]]
    if f["status"] == "ran":
        assert 0 <= f["probability"] <= 1 and f["error_rate"]["auc"] is not None
        assert f["details"]["tracks"][0]["windows"] >= 1


def test_shipped_model_loads_hash_checked():
    from forensics.models import ModelUnavailable, load_card

    try:
        card = load_card("rppg")
    except ModelUnavailable:
        pytest.skip("rppg model not installed")
    m = RbfSvm.from_json(json.loads(card.path("weights").read_text()))
    assert m.features == F.FEATURES
    assert 0.0 <= card.data["metrics"]["auc"] <= 1.0 and card.data["metrics"]["n_test"] >= 10
    assert card.data["metrics"].get("auc_ci95") and "cross" in card.data["metrics"].get("kind", "")


def test_manipulation_method_from_faceforensics_names():
    from forensics_plugins.rppg.train import manipulation_method

    assert manipulation_method("x/FF__183_253.mp4", 1) == "Deepfakes"
    assert manipulation_method("x/FF__183_253_1.mp4", 1) == "Face2Face"
    assert manipulation_method("x/FF__183_253_3.mp4", 1) == "NeuralTextures"
    assert manipulation_method("gan/clip.mp4", 1) == "gan"
    assert manipulation_method("x/FF__183.mp4", 0) is None


def test_cross_method_validation_never_trains_on_the_held_out_method_or_people():
    from forensics_plugins.rppg import train as T

    X, _ = _toy(200, seed=5)
    vid = np.repeat(np.arange(40), 5).astype(str)
    y = np.repeat(np.arange(40) % 2, 5)
    groups = np.repeat(np.arange(40) // 10, 5).astype(str)
    methods = np.where(y == 1, np.repeat(np.array(["A", "B"])[(np.arange(40) // 2) % 2], 5), "")
    seen = []
    real_fit = T.fit_svm

    def spy(Xt, yt, *a, **k):
        seen.append(len(yt))
        return real_fit(Xt, yt, *a, **k)

    T.fit_svm = spy
    try:
        rows = T.cross_method_validate(X, y, vid, groups, methods)
    finally:
        T.fit_svm = real_fit
    assert len(seen) == 8  # 4 groups x 2 methods
    for r in rows:  # a fake is only scored in the fold that holds its own method out
        if r["label"] == 1:
            assert methods[vid == r["video"]][0] == r["method_out"]


DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "rppg_roi_video" / "real_hr_gt"


@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data not available")
def test_optional_real_region_clip_gives_a_heart_rate():
    clip = sorted(DATA.glob("*forehead.avi"))[0]
    t, rgb, fps = S.trace_from_video(str(clip), max_seconds=20)
    hrs = S.clip_heart_rates(t, rgb)
    assert all(40 <= hrs[m]["hr_bpm"] <= 240 for m in S.METHODS)


def test_low_frame_rate_and_heavy_compression_are_inconclusive(make_case, tmp_path, monkeypatch):
    from conftest import item_by_path

    from forensics.demo import face_video_frames, write_mp4
    from forensics.engine import analyze_case
    from forensics_plugins.rppg import pipeline as P

    slow = tmp_path / "slow.mp4"
    write_mp4(slow, face_video_frames(48), fps=8, codec="mpeg4")  # 6 s at 8 fps
    fast = tmp_path / "fast.mp4"
    write_mp4(fast, face_video_frames(90), fps=15, codec="mpeg4")  # 6 s at 15 fps
    case = make_case({"slow.mp4": slow.read_bytes(), "fast.mp4": fast.read_bytes()})
    monkeypatch.setattr(P, "MIN_BITS_PER_PIXEL", 10.0)  # pretend every file is starved of bits
    doc = analyze_case(case, detectors=["rppg"]).document
    f = item_by_path(doc, "slow.mp4")["findings"][0]
    assert f["status"] == "inconclusive" and "too few frames per second" in f["reason"]
    f = item_by_path(doc, "fast.mp4")["findings"][0]
    assert f["status"] == "inconclusive" and "heavy compression" in f["reason"]


def test_card_states_the_tempo_check_and_slope():
    from forensics_plugins.rppg.card import hr_sentence

    hr = {"mae_bpm": 6.5, "mae_ci95": [4.0, 9.0], "n_test_subjects": 7, "within_5_bpm": 0.4,
          "baseline_median_guess_mae_bpm": 6.8, "command": "python benchmarks/rppg_hr.py --write-card",
          "test_slope": 0.31, "tune_tempo": {"factors": [0.8, 1.0, 1.25], "mae_bpm": 9.5,
                                             "constant_guess_mae_bpm": 11.4, "slope": 0.42}}
    s = hr_sentence(hr)
    assert "tempo 0.8–1.25" in s and "9.5 bpm" in s and "11.4" in s and "0.42" in s and "0.31" in s
    assert "tempo" not in hr_sentence({k: v for k, v in hr.items() if k != "tune_tempo"})
    gated = {**hr, "n_reliable_test_subjects": 0, "reliable_mae_bpm": None, "noise_false_accepts": "0/100"}
    assert "not met" in hr_sentence({**gated, "target_met": False})
    assert "not met" not in hr_sentence({**gated, "target_met": True})
