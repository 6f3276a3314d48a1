"""Whole-video coverage and the per-segment timeline, on generated clips longer than the old 20 s limit."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

from forensics import hookimpl
from forensics.detector import Detector

CHANGE_AT = 12.0


def _head() -> np.ndarray:
    import cv2
    import skimage.data

    return cv2.resize(skimage.data.astronaut()[0:220, 110:330], (220, 220), interpolation=cv2.INTER_AREA)


def write_clip(path: Path, seconds: float, fps: int, change_at: float | None = None) -> None:
    """A 400x300 clip of the astronaut's head moving sideways; from ``change_at`` on, her face region has red
    and blue swapped (a visible, detectable change that the HOG face detector does not mind)."""
    from forensics.demo import write_mp4

    head = _head()

    def frames():
        for i in range(int(round(seconds * fps))):
            t = i / fps
            f = np.full((300, 400, 3), 120, np.uint8)
            x = int(80 + 60 * np.sin(2 * np.pi * t / 10))
            patch = head.copy()
            if change_at is not None and t >= change_at:
                patch[60:175, 50:170] = patch[60:175, 50:170, ::-1]
            f[30:250, x:x + 220] = patch
            yield f

    write_mp4(path, frames(), fps=fps, codec="mpeg4")


class FaceTint(Detector):
    """Test detector: per-frame P = how much bluer than red the face crop's centre is (0.5 = equal).

    Reads the shared whole-duration face tracks and reports ``frame_scores``; the item score is the mean.
    Its stated AUC is a fixture value so that the fallback fusion gives it weight.
    """

    name = "face_tint"
    version = "0.0.1"
    media_kinds = ("video",)

    def analyze(self, item, media):
        from forensics.api import face_analysis

        fa = face_analysis(media)
        scores = []
        for tr in fa.video_tracks:
            for o in tr.crop_observations:
                c = np.asarray(o.crop, dtype=np.float64)[80:150, 70:150]
                p = float(np.clip(0.5 + (c[..., 2].mean() - c[..., 0].mean()) / 80.0, 0.0, 1.0))
                scores.append([round(o.time_s, 4), round(p, 4), tr.track_id])
        p_item = float(np.mean([s[1] for s in scores]))
        f = self.ran(p_item, details={"frame_scores": scores})
        f.error_rate = {"auc": 0.9, "eer": 0.1, "dataset": "test fixture"}
        return f


tint_plugin = types.SimpleNamespace(__name__="face_tint_plugin",
                                    forensics_register_detectors=hookimpl(lambda: [FaceTint()]))


def _analyse(case: Path):
    from forensics.engine import analyze_case

    return analyze_case(case, detectors=["face_tint"], extra_plugins=[tint_plugin])


@pytest.mark.slow
def test_clip_longer_than_20s_is_covered_and_timeline_shows_the_change(tmp_path):
    case = tmp_path / "case"
    case.mkdir()
    write_clip(case / "changed.mp4", 24.0, 10, change_at=CHANGE_AT)
    res = _analyse(case)
    (item,) = res.document["items"]
    cov = item["coverage"]
    assert cov["duration_s"] == pytest.approx(24.0, abs=0.15)
    assert cov["analysed_s"] == pytest.approx(cov["duration_s"], abs=0.15)  # every second, not the first 20
    assert cov["face_s"] == pytest.approx(cov["duration_s"], abs=0.5) and cov["gaps"] == []
    assert cov["frames_decoded"] == cov["frames_expected"] == 240
    tl = item["timeline"]
    assert [s["start_s"] for s in tl] == [0, 5, 10, 15, 20] and tl[-1]["end_s"] == pytest.approx(24.0, abs=0.15)
    before = [s["probability"] for s in tl if s["end_s"] <= CHANGE_AT]
    after = [s["probability"] for s in tl if s["start_s"] >= 15]
    assert before and after and max(before) < 0.3 < 0.7 < min(after)
    assert all("face_tint" in s["detectors"] for s in tl)
    v = item["verdict"]
    seg = v["timeline"]["most_suspicious_segment"]
    assert seg["start_s"] >= 10 and v["probability"] == pytest.approx(seg["probability"])
    assert v["label"] == "likely manipulated"
    if v.get("likelihood_ratio"):  # the LR stated with the verdict is that of the probability stated
        assert v["likelihood_ratio"]["lr"] == pytest.approx(v["probability"] / (1 - v["probability"]), rel=1e-3)
    assert res.document["timeline"]["segment_s"] == 5.0
    # the plot and the thumbnails are artifacts of the run, named in the item and embedded in the report
    names = [a["file"] for a in item["timeline_artifacts"]]
    assert len(names) == 2 and all(n in res.artifacts for n in names)
    from forensics.report import render_html

    html = render_html(res)
    assert "Coverage and timeline" in html and "Most suspicious segment" in html


@pytest.mark.slow
def test_long_clip_dense_windows_and_sparse_frames_cover_everything(tmp_path):
    from forensics.faces import face_analysis
    from forensics.media import open_media

    path = tmp_path / "long.mp4"
    write_clip(path, 60.0, 4)
    media = open_media(path)
    fa = face_analysis(media)
    cov = fa.coverage
    assert cov["analysed_s"] == pytest.approx(60.0, abs=0.3) and cov["gaps"] == []
    assert cov["frames_decoded"] == 240
    windows = cov["sampling"]["dense_windows_s"]
    assert len(windows) == 1 and 0 < windows[0][0] < windows[0][1] < 60  # one 20 s window for a 1-minute clip
    # dense tracks stay inside one window (uniform sampling for blink / rPPG) ...
    for tr in fa.tracks:
        assert len({o.window for o in tr.observations}) == 1 and tr.observations[0].window >= 0
        assert np.allclose(np.diff(tr.times), 0.25, atol=1e-3)
    # ... the whole-duration tracks reach the start and the end, through sparse frames one second apart
    times = sorted(o.time_s for t in fa.video_tracks for o in t.observations)
    assert times[0] < 1.0 and times[-1] > 58.5
    sparse = [o for t in fa.video_tracks for o in t.observations if o.window < 0]
    assert sparse and all(o.detected for o in sparse)
    assert len(fa.video_tracks[0].crop_observations) >= len(fa.tracks[0])


def test_sparse_crops_are_capped_and_evenly_spread(tmp_path):

    from forensics.faces import FaceTracker

    head = _head()
    tracker = FaceTracker(400, 300, crops_per_track=4)
    for i in range(20):
        f = np.full((300, 400, 3), 120, np.uint8)
        f[30:250, 80 + i:300 + i] = head
        tracker.update(f, i * 25, float(i), window=-1)
    (track,) = tracker.result()
    assert len(track) == 20  # landmarks and times for every observation ...
    kept = [k for k, o in enumerate(track.observations) if o.crop is not None]
    assert 2 <= len(kept) <= 4 and kept[0] == 0  # ... crops for a few, on an even grid
    assert len(set(np.diff(kept))) == 1


def test_coverage_record_names_no_face_and_decode_error_gaps():
    from forensics.faces.pipeline import coverage_record

    class Obs:
        def __init__(self, i):
            self.frame_index = i

    sampled = [(i, i / 10, 0) for i in range(100)]  # 10 s sampled at 10 fps
    track = types.SimpleNamespace(observations=[Obs(i) for i in range(100) if not 30 <= i < 50])
    cov = coverage_record(sampled, [track], duration_s=20.0, fps=10.0, frames_decoded=100, frames_expected=200,
                          last_decoded_s=9.9, decode_error="Invalid data found when processing input")
    assert cov["analysed_s"] == pytest.approx(10.0) and cov["face_s"] == pytest.approx(8.0)
    assert cov["gaps"] == [[3.0, 5.0, "no face"], [10.0, 20.0, "decode error: Invalid data found when processing input"]]
    assert cov["frames_decoded"] == 100 and cov["frames_expected"] == 200


def test_timeline_rule_and_verdict_segment_rule():
    from forensics import fusion, timeline
    from forensics.detector import Finding, Status

    scores = [[t / 2, 0.1 if t < 80 else 0.95] for t in range(120)]  # 60 s; manipulated from 40 s
    f = Finding(detector="x", version="1", status=Status.RAN, probability=0.4, details={"frame_scores": scores},
                error_rate={"auc": 0.8})
    idle = Finding(detector="y", version="1", status=Status.INCONCLUSIVE, details={"frame_scores": scores})
    tl = timeline.build([f, idle], 60.0, {"gaps": [[50.0, 52.5, "no face"]]})
    assert len(tl) == 12 and all(set(s["detectors"]) == {"x"} for s in tl)  # only detectors that scored
    assert tl[0]["probability"] == pytest.approx(0.1, abs=1e-6) and tl[-1]["probability"] == pytest.approx(0.95)
    assert tl[10]["gaps"] == ["no face"] and tl[10]["gap_s"] == pytest.approx(2.5)
    verdict = fusion.fuse_fallback([f])
    timeline.apply_to_verdict(verdict, tl)
    assert verdict["timeline"]["applied"] and verdict["timeline"]["item_probability"] == pytest.approx(0.4)
    assert verdict["probability"] == pytest.approx(0.95) and verdict["label"] == "likely manipulated"
    assert verdict["timeline"]["most_suspicious_segment"]["start_s"] == 40.0
    assert timeline.segment_length(3600) == 15.0 and timeline.segment_length(60) == 5.0
