"""Blink eye-state diagnosis: the sharpness descriptor, one cross-source run with its predictions, per-sample file
names, and the error report of ``benchmarks/eye_state_errors.py``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from forensics_plugins.blink_lrcn.data import EyeSamples, collect
from forensics_plugins.blink_lrcn.eyes import EYE_CROP_SIZE

REPO = Path(__file__).resolve().parents[1]


def _errors_module():
    spec = importlib.util.spec_from_file_location("eye_state_errors", REPO / "benchmarks" / "eye_state_errors.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _eye(rng: np.random.Generator, closed: bool, blur: float = 0.0) -> np.ndarray:
    import cv2

    s = EYE_CROP_SIZE
    img = np.full((s, s), int(rng.integers(110, 190)), np.uint8)
    c = s // 2 + int(rng.integers(-2, 3))
    if closed:
        cv2.line(img, (c - 10, c), (c + 10, c), 40, 2)
    else:
        cv2.ellipse(img, (c, c), (11, 6), 0, 0, 360, 230, -1)
        cv2.circle(img, (c, c), 4, 25, -1)
    return cv2.GaussianBlur(img, (0, 0), blur) if blur else img


def _samples(n: int = 24) -> EyeSamples:
    """Two source families with both classes: sharp 'eye crops' and blurred 'face images (both eyes)'."""
    rng = np.random.default_rng(0)
    crops, labels, sources, groups, ear = [], [], [], [], []
    for fam, src, blur in (("eye crops", "crops/x", 0.0), ("face images (both eyes)", "faces/y", 1.2)):
        for i in range(n):
            lab = (i // 2) % 2  # faces: both eyes of an image (one group) share the label
            crops.append(_eye(rng, bool(lab), blur))
            labels.append(lab)
            sources.append(src)
            groups.append(100 + i // 2 if blur else i)
            ear.append(np.nan if not blur else (0.1 if lab else 0.3))
    counts = {"crops/x": {"kind": "eye crops"}, "faces/y": {"kind": "face images (both eyes)"}}
    c = np.stack(crops)
    return EyeSamples(c, np.array(labels), np.array(groups), np.array(sources), np.array(ear), counts,
                      np.repeat(c[..., None], 3, -1), np.array([f"img{g}.png" for g in groups]))


def test_sharpness_by_stratum_orders_sharp_and_blurred_crops():
    from forensics_plugins.blink_lrcn.train import sharpness, sharpness_by_stratum

    s = _samples()
    lap = sharpness(s.crops)
    assert lap.shape == (len(s),) and (lap > 0).all()
    by = sharpness_by_stratum(s)
    assert set(by) == {"crops/x", "faces/y"} and set(by["crops/x"]) == {"open", "closed"}
    for lab in ("open", "closed"):
        assert by["crops/x"][lab]["median"] > 2 * by["faces/y"][lab]["median"]  # blur lowers the measure
        lo, hi = by["faces/y"][lab]["q10_q90"]
        assert lo <= by["faces/y"][lab]["median"] <= hi and by["faces/y"][lab]["n"] == 12


def test_cross_source_run_returns_calibrated_predictions_of_the_held_family():
    from forensics_plugins.blink_lrcn.train import cross_source_eye_state, cross_source_run, source_families

    s = _samples()
    run = cross_source_run(s, "face images (both eyes)", 2, 0, 0.25, echo=lambda m: None, epoch_size=32,
                           widths=(8, 8, 8))
    assert run is not None
    record, p = run
    held = source_families(s) == "face images (both eyes)"
    assert p.shape == (int(held.sum()),) and ((p >= 0) & (p <= 1)).all()
    assert record["trained_on"] == ["crops/x"] and record["held_out_sources"] == ["faces/y"]
    acc = float(((p >= 0.5) == (s.labels[held] == 1)).mean())
    assert record["calibrated"]["accuracy"] == round(acc, 4)
    # the per-family loop gives the same record for that family (same seed, deterministic)
    loop = cross_source_eye_state(s, 2, 0, 0.25, echo=lambda m: None, epoch_size=32, widths=(8, 8, 8))
    assert loop["face images (both eyes)"]["calibrated"] == record["calibrated"]
    # a family missing a class on one side is skipped
    one = EyeSamples(s.crops[:12], np.zeros(12, np.int64), s.groups[:12], s.sources[:12], s.ear[:12], s.counts,
                     s.colour[:12])
    assert cross_source_run(one, "eye crops", 1, 0, 0.25, echo=lambda m: None) is None


def test_samples_name_their_files(tmp_path):
    import cv2

    for lab in ("open", "closed"):
        (tmp_path / "eyes" / lab).mkdir(parents=True)
        for i in range(3):
            cv2.imwrite(str(tmp_path / "eyes" / lab / f"{i}.png"), _eye(np.random.default_rng(i), lab == "closed"))
    s = collect([tmp_path / "eyes"], echo=lambda m: None)
    assert s.files is not None and len(s.files) == len(s) == 6
    assert all(Path(f).is_file() and Path(f).parent.name == ("closed" if y else "open")
               for f, y in zip(s.files, s.labels))


def test_error_report_counts_the_errors_and_reports_the_threshold_bound():
    mod = _errors_module()
    s = _samples()
    held = np.flatnonzero(s.sources == "faces/y")
    y = s.labels[held]
    p = np.where(y == 1, 0.9, 0.1)
    p[0] = 0.8 if y[0] == 0 else 0.2  # one error, recoverable at a higher / lower threshold
    desc = mod.descriptors(s, held, None)
    assert set(desc) == {"ear", "saturation", "brightness", "contrast", "sharpness", "iod_px"}
    text = "\n".join(mod.report(s, held, p, desc))
    assert f"accuracy {1 - 1 / len(y):.4f}" in text
    assert "best single threshold on the measured set (diagnostic upper bound, never used): accuracy 1.0000" in text
    wrong_open = "open called closed 1 of" if y[0] == 0 else "closed called open 1 of"
    assert wrong_open in text and "faces/y" in text
    assert "per face, mean P(closed) of its eyes (as the detector decides): accuracy" in text
    assert "left out)" in text and "(label doubtful" in text
    assert mod.sub_folder("/d/face_real/lfw/a.jpg", "data/face_real") == "data/face_real/lfw"
    assert mod.sub_folder("/d/face_real/a.jpg", "data/face_real") == "data/face_real"


def test_mode_probabilities_override_the_common_one(monkeypatch):
    from forensics_plugins.blink_lrcn import train as trainer

    eye = _eye(np.random.default_rng(0), False)
    calls: list[str] = []
    for mode in trainer.AUGMENT_MODES:
        monkeypatch.setitem(trainer._MODE_FN, mode, lambda img, rng, m=mode: calls.append(m) or img)
    monkeypatch.setattr(trainer, "MODE_P", {"low_res": 1.0, "blur": 0.0})
    for k in range(20):
        trainer.augment(eye, np.random.default_rng(k), p=0.0)
    assert calls == ["low_res"] * 20  # low_res always, blur never, the others at p = 0
    assert trainer.MODE_P == {"low_res": 1.0, "blur": 0.0}
