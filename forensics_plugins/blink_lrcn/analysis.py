"""Per-track blink analysis, shared by the detector and by training/calibration.

``face_signals`` (model-independent, from the shared face pipeline) →
``judge_track`` (LRCN + EAR → blinks → statistics) → ``video_score``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .blinks import (
    MIN_CLIP_S,
    MIN_FPS,
    NORM_RATE,
    BlinkStats,
    blinks_from_ear,
    blinks_from_probability,
    detect_blinks,
    low_blink_surprise,
)
from .eyes import EYE_CROP_SIZE, eye_crops, eye_visibility, mean_ear

MAX_HIDDEN_FRACTION = 0.5  # a track whose eyes are hidden in more frames than this is not judged


@dataclass
class TrackSignals:
    """What the face pipeline gives for one track, reduced to the eyes (no model involved)."""

    track_id: int
    times: np.ndarray  # (T,) seconds
    ear: np.ndarray  # (T,) mean EAR of both eyes (full-frame landmarks)
    crops: np.ndarray  # (T, 2, S, S) uint8 grey eye crops
    hidden: list  # (T,) None or the reason the eyes cannot be seen in that frame
    face_px: float  # median face size, full-frame pixels

    def __len__(self) -> int:
        return len(self.times)

    @property
    def visible(self) -> np.ndarray:
        return np.array([h is None for h in self.hidden], dtype=bool)


@dataclass
class TrackResult:
    signals: TrackSignals
    fps: float
    p_lrcn: np.ndarray | None  # (T,) LRCN P(closed), nan where the eyes are hidden
    p_cnn: np.ndarray | None  # (T,) CNN-only P(closed)
    lrcn: BlinkStats | None
    ear: BlinkStats
    visible_s: float
    judged: bool
    reason: str = ""  # why not judged
    surprise: float | None = None  # low-blink surprise from the LRCN blinks (the calibrated score)
    extras: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        s = self.signals
        hidden = Counter(h for h in s.hidden if h is not None)
        out: dict[str, Any] = {
            "track": s.track_id,
            "frames": len(s),
            "first_s": round(float(s.times[0]), 3) if len(s) else None,
            "last_s": round(float(s.times[-1]), 3) if len(s) else None,
            "face_size_px": round(s.face_px, 1),
            "eyes_visible_s": round(self.visible_s, 3),
            "frames_eyes_hidden": int(sum(hidden.values())),
            "hidden_reasons": dict(hidden),
            "judged": self.judged,
            "reason": self.reason,
            "ear_baseline": self.ear.summary(),
        }
        if self.lrcn is not None:
            out["lrcn"] = self.lrcn.summary()
        if self.surprise is not None:
            out["low_blink_surprise"] = round(self.surprise, 4)
        return out


def track_signals(track) -> TrackSignals:
    """Eye crops, EAR and visibility for every observation of a :class:`forensics.faces.FaceTrack`."""
    obs = track.observations
    n = len(obs)
    crops = np.empty((n, 2, EYE_CROP_SIZE, EYE_CROP_SIZE), dtype=np.uint8)
    ear = np.empty(n)
    hidden = []
    for i, o in enumerate(obs):
        crops[i] = eye_crops(o.crop, o.crop_landmarks)
        why = eye_visibility(o.landmarks, o.crop, o.crop_landmarks)
        hidden.append(why)
        ear[i] = mean_ear(o.landmarks) if why is None else np.nan
    return TrackSignals(track.track_id, np.array([o.time_s for o in obs], dtype=np.float64), ear, crops, hidden,
                        float(np.median([o.size for o in obs])) if obs else 0.0)


def face_signals(fa) -> list[TrackSignals]:
    return [track_signals(t) for t in fa.tracks]


def judge_track(sig: TrackSignals, fps: float, model=None, min_clip_s: float = MIN_CLIP_S) -> TrackResult:
    """Blinks of one track from both signals, and whether the track is long and visible enough to judge.

    ``model`` is an :class:`~forensics_plugins.blink_lrcn.lrcn.LRCN` or ``None`` (EAR only).
    """
    vis = sig.visible
    period = 1.0 / fps if fps > 0 else 0.0
    visible_s = float(vis.sum()) * period
    ear_stats = blinks_from_ear(np.where(vis, sig.ear, np.nan), fps, sig.times)
    p_lrcn = p_cnn = None
    lrcn_stats = None
    if model is not None and len(sig):
        from .lrcn import eye_state

        p_lrcn, p_cnn = eye_state(model, sig.crops)
        p_lrcn = np.where(vis, p_lrcn, np.nan)
        p_cnn = np.where(vis, p_cnn, np.nan)
        lrcn_stats = blinks_from_probability(p_lrcn, fps, sig.times)
        # blink time is counted only where the eyes were visible
        lrcn_stats.duration_s = visible_s
    ear_stats.duration_s = visible_s
    judged, reason = True, ""
    hidden_frac = 1.0 - float(vis.mean()) if len(sig) else 1.0
    if hidden_frac > MAX_HIDDEN_FRACTION:
        top = Counter(h for h in sig.hidden if h is not None).most_common(1)[0][0]
        judged, reason = False, f"eyes not visible in {100 * hidden_frac:.0f} % of the frames ({top})"
    elif fps < MIN_FPS:
        judged, reason = False, f"sampled at {fps:.1f} fps; blinks (100-400 ms) need at least {MIN_FPS:.0f} fps"
    elif visible_s < min_clip_s:
        span = float(sig.times[-1] - sig.times[0]) + period if len(sig) else 0.0
        judged, reason = False, (f"clip shorter than {min_clip_s:.0f} s: eyes seen for {visible_s:.1f} s "
                                 f"(face on screen {span:.1f} s)")
    res = TrackResult(sig, fps, p_lrcn, p_cnn, lrcn_stats, ear_stats, visible_s, judged, reason)
    if lrcn_stats is not None:
        res.surprise = low_blink_surprise(lrcn_stats.count, visible_s)
    return res


def video_score(results: list[TrackResult]) -> tuple[float | None, TrackResult | None]:
    """The most suspicious judged track's low-blink surprise (a manipulated video usually alters one face)."""
    judged = [r for r in results if r.judged and r.surprise is not None]
    if not judged:
        return None, None
    best = max(judged, key=lambda r: (r.surprise, r.visible_s))
    return float(best.surprise), best


@dataclass
class Calibrator:
    """``P(synthetic) = σ(intercept + coef × low_blink_surprise)``; fitted by ``train.calibrate``."""

    coef: float
    intercept: float
    norm_rate_per_min: float = NORM_RATE
    feature: str = "low_blink_surprise"

    def probability(self, score: float) -> float:
        z = self.intercept + self.coef * float(score)
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def to_json(self) -> dict[str, Any]:
        return {"feature": self.feature, "coef": self.coef, "intercept": self.intercept,
                "norm_rate_per_min": self.norm_rate_per_min}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Calibrator":
        if d.get("feature") != "low_blink_surprise":
            raise ValueError(f"unknown calibrator feature {d.get('feature')!r}")
        return cls(float(d["coef"]), float(d["intercept"]), float(d.get("norm_rate_per_min", NORM_RATE)))


__all__ = ["TrackSignals", "TrackResult", "track_signals", "face_signals", "judge_track", "video_score", "Calibrator",
           "detect_blinks"]
