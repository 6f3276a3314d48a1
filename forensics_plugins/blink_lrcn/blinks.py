"""Blinks from a per-frame eye-state sequence, blink statistics, and human norms.

The blink rule (one rule for both signals)
------------------------------------------
1. A frame is *closed* when its signal crosses a threshold: LRCN ``P(closed) ≥ 0.5``;
   EAR ``< min(EAR_ABS_THRESHOLD, EAR_REL_THRESHOLD × median EAR of the track)``
   (the median is the person's open-eye level, since eyes are open > 90 % of the time).
2. Runs of closed frames separated by at most :data:`MERGE_GAP_FRAMES` open frame
   are merged (one blink whose middle frame was misread is still one blink).
3. A run is a **blink** when its duration -- number of frames × frame period --
   lies in [:data:`MIN_BLINK_S`, :data:`MAX_BLINK_S`] = [60, 500] ms. Shorter runs
   are flicker (ignored); longer ones are *long closures* (counted apart: looking
   down, eyes shut), not blinks. The bounds follow the 100-400 ms blink duration
   below: the closed part of a blink (P ≥ 0.5) is shorter than the whole lid
   movement, and one frame of margin is allowed at either end.

Human norms (shown next to the measured figures)
------------------------------------------------
* Spontaneous blink rate of healthy adults: 17 blinks/min at rest, 26/min in
  conversation, 4.5/min while reading -- A. R. Bentivoglio et al., "Analysis of
  blink rate patterns in normal subjects", *Movement Disorders* 12(6):1028-1034
  (1997). Li, Chang & Lyu (2018) use the same figures.
* Duration of one blink: about 100-400 ms -- H. R. Schiffman, *Sensation and
  Perception: An Integrated Approach*, 5th ed., Wiley (2001); the range widely
  quoted (e.g. Harvard BioNumbers, BNID 100706).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

P_THRESHOLD = 0.5
EAR_ABS_THRESHOLD = 0.21
EAR_REL_THRESHOLD = 0.75
MERGE_GAP_FRAMES = 1
MIN_BLINK_S = 0.06  # 2 frames at 30 fps, 1 frame at ≤ 16 fps
MAX_BLINK_S = 0.5  # the 100-400 ms norm plus a frame or two of margin
MIN_CLIP_S = 10.0  # a face must be seen this long before its blink rate is judged
MIN_FPS = 10.0  # below this a 100-400 ms blink may fall between frames

NORMS = {
    "rate_rest_per_min": 17.0,
    "rate_conversation_per_min": 26.0,
    "rate_reading_per_min": 4.5,
    "duration_ms": [100, 400],
    "rate_source": ("A. R. Bentivoglio, S. B. Bressman, E. Cassetta, D. Carretta, P. Tonali, A. Albanese, "
                    "'Analysis of blink rate patterns in normal subjects', Movement Disorders 12(6):1028-1034, 1997"),
    "duration_source": "H. R. Schiffman, Sensation and Perception: An Integrated Approach, 5th ed., Wiley, 2001",
}
NORM_RATE = NORMS["rate_rest_per_min"]


@dataclass
class Blink:
    start: int  # index of the first closed frame
    end: int  # index of the last closed frame (inclusive)
    start_s: float
    end_s: float  # end of the last closed frame (its time + one frame period)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def mid_s(self) -> float:
        return 0.5 * (self.start_s + self.end_s)


@dataclass
class BlinkStats:
    blinks: list[Blink]
    long_closures: list[Blink]
    duration_s: float  # time span observed
    fps: float
    threshold: float
    closed_fraction: float
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.blinks)

    @property
    def rate_per_min(self) -> float:
        return 60.0 * self.count / self.duration_s if self.duration_s > 0 else float("nan")

    @property
    def intervals_s(self) -> list[float]:
        mids = [b.mid_s for b in self.blinks]
        return [b - a for a, b in zip(mids, mids[1:])]

    @property
    def durations_ms(self) -> list[float]:
        return [1000.0 * b.duration_s for b in self.blinks]

    def summary(self) -> dict[str, Any]:
        iv, du = self.intervals_s, self.durations_ms
        lo, hi = poisson_rate_interval(self.count, self.duration_s)
        return {
            "blinks": self.count,
            "rate_per_min": _r(self.rate_per_min, 2),
            "rate_per_min_95ci": [_r(lo, 2), _r(hi, 2)],
            "long_closures": len(self.long_closures),
            "duration_s": _r(self.duration_s, 3),
            "closed_fraction": _r(self.closed_fraction, 4),
            "threshold": _r(self.threshold, 4),
            "blink_times_s": [_r(b.mid_s, 3) for b in self.blinks],
            "blink_durations_ms": [_r(d, 1) for d in du],
            "median_blink_duration_ms": _r(float(np.median(du)), 1) if du else None,
            "inter_blink_intervals_s": [_r(v, 3) for v in iv],
            "median_inter_blink_interval_s": _r(float(np.median(iv)), 3) if iv else None,
            "longest_open_s": _r(self.longest_open_s(), 3),
            **self.extras,
        }

    def longest_open_s(self) -> float:
        """Longest stretch without a blink (including the clip edges)."""
        edges = [0.0] + [x for b in self.blinks for x in (b.start_s, b.end_s)] + [self.duration_s]
        gaps = [edges[i + 1] - edges[i] for i in range(0, len(edges), 2)]
        return float(max(gaps)) if gaps else self.duration_s


def _r(v: float | None, nd: int) -> float | None:
    if v is None or not np.isfinite(v):
        return None
    return round(float(v), nd)


def closed_runs(closed: np.ndarray, merge_gap: int = MERGE_GAP_FRAMES) -> list[tuple[int, int]]:
    """Inclusive ``(start, end)`` index runs of ``True``, merging runs separated by ≤ ``merge_gap`` ``False``.

    Example
    -------
    >>> closed_runs(np.array([0, 1, 1, 0, 1, 0, 0, 1], bool))
    [(1, 4), (7, 7)]
    """
    c = np.asarray(closed, dtype=bool)
    idx = np.flatnonzero(c)
    if idx.size == 0:
        return []
    runs = []
    start = prev = int(idx[0])
    for i in idx[1:]:
        i = int(i)
        if i - prev - 1 > merge_gap:
            runs.append((start, prev))
            start = i
        prev = i
    runs.append((start, prev))
    return runs


def detect_blinks(closed: np.ndarray, fps: float, times: np.ndarray | None = None, threshold: float = float("nan"),
                  min_s: float = MIN_BLINK_S, max_s: float = MAX_BLINK_S, merge_gap: int = MERGE_GAP_FRAMES) -> BlinkStats:
    """Apply the blink rule (module docstring) to a boolean per-frame ``closed`` sequence.

    Parameters
    ----------
    closed : (T,) bool
        Per sampled frame: are the eyes closed?
    fps : float
        Sampling rate of the sequence (frames per second).
    times : (T,) float, optional
        Frame times in seconds; default ``arange(T) / fps``.

    Returns
    -------
    BlinkStats
    """
    c = np.asarray(closed, dtype=bool)
    period = 1.0 / fps
    t = np.arange(len(c)) * period if times is None else np.asarray(times, dtype=np.float64) - float(times[0])
    blinks, long_ = [], []
    for s, e in closed_runs(c, merge_gap):
        b = Blink(s, e, float(t[s]), float(t[e] + period))
        d = (e - s + 1) * period
        if d < min_s - 1e-9:
            continue
        (blinks if d <= max_s + 1e-9 else long_).append(b)
    duration = float(t[-1] + period) if len(c) else 0.0
    return BlinkStats(blinks, long_, duration, fps, threshold, float(c.mean()) if len(c) else 0.0)


def blinks_from_probability(p_closed: np.ndarray, fps: float, times: np.ndarray | None = None,
                            threshold: float = P_THRESHOLD) -> BlinkStats:
    """Blinks from a per-frame ``P(eye closed)`` (LRCN output)."""
    p = np.nan_to_num(np.asarray(p_closed, dtype=np.float64), nan=0.0)
    return detect_blinks(p >= threshold, fps, times, threshold)


def ear_threshold(ear: np.ndarray) -> float:
    """Per-track EAR threshold: ``min(0.21, 0.75 × median EAR)``."""
    e = np.asarray(ear, dtype=np.float64)
    med = float(np.nanmedian(e)) if np.isfinite(e).any() else EAR_ABS_THRESHOLD / EAR_REL_THRESHOLD
    return min(EAR_ABS_THRESHOLD, EAR_REL_THRESHOLD * med)


def blinks_from_ear(ear: np.ndarray, fps: float, times: np.ndarray | None = None,
                    threshold: float | None = None) -> BlinkStats:
    """Blinks from a per-frame eye aspect ratio (Soukupová & Čech baseline)."""
    e = np.asarray(ear, dtype=np.float64)
    thr = ear_threshold(e) if threshold is None else float(threshold)
    closed = np.where(np.isfinite(e), e < thr, False)
    return detect_blinks(closed, fps, times, thr)


def poisson_cdf(k: int, mu: float) -> float:
    """``P(N ≤ k)`` for ``N ~ Poisson(mu)``."""
    if mu <= 0:
        return 1.0
    term = math.exp(-mu)
    total = term
    for i in range(1, k + 1):
        term *= mu / i
        total += term
    return min(1.0, total)


def low_blink_surprise(count: int, duration_s: float, norm_rate_per_min: float = NORM_RATE) -> float:
    """How surprising so few blinks are for a human: ``−log10 P(N ≤ count)``, ``N ~ Poisson(rate × T)``.

    0 means "as many blinks as a person typically makes, or more"; 2 means a person
    blinking at the resting norm would blink this little in only 1 % of clips this
    long. It grows with clip length for the same rate, so short clips never look
    very suspicious. (Li, Chang & Lyu's cue: synthetic faces blink too rarely.)
    """
    mu = norm_rate_per_min * duration_s / 60.0
    return float(-math.log10(max(poisson_cdf(int(count), mu), 1e-300)))


def poisson_rate_interval(count: int, duration_s: float, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) confidence interval of a Poisson rate, in events per minute."""
    from scipy.stats import chi2

    if duration_s <= 0:
        return float("nan"), float("nan")
    a = 1 - level
    lo = 0.0 if count == 0 else chi2.ppf(a / 2, 2 * count) / 2
    hi = chi2.ppf(1 - a / 2, 2 * count + 2) / 2
    return 60.0 * lo / duration_s, 60.0 * hi / duration_s
