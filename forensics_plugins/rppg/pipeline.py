"""From an evidence item to per-track colour traces, signals and window features.

Shared by the detector (``forensics analyze``) and training (``forensics train rppg``),
so that the model is trained on exactly what it later sees. Faces come from the
shared face pipeline (:func:`forensics.faces.face_analysis`); this module never runs
a face detector of its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import features as F
from . import regions as R
from .signals import FS

TRACE_VERSION = "rppg-traces/1"  # bump when region geometry or colour averaging changes
MIN_SECONDS = F.WINDOW_S  # shorter face tracks give no window: inconclusive
MIN_FPS = 10.0  # the band reaches 4 Hz: below 8 fps it aliases; 10 fps leaves a margin
MIN_REGIONS = 3
MAX_TRACKS = 3  # longest tracks analysed
# Heavy compression: below this many bits per pixel per frame (the whole stream), or
# when the skin colour stops changing between frames, the pulse (a colour change of
# about 0.1-0.5 %) is quantised away. FF++ c40 -- the heaviest compression in the
# training data -- is at about 0.004-0.01 bit/pixel; the thresholds sit below it.
MIN_BITS_PER_PIXEL = 0.002
MAX_FROZEN_SHARE = 0.5  # share of frame-to-frame steps with no change in the face's mean colour


@dataclass
class TrackTraces:
    track_id: int
    times: np.ndarray  # (N,) s
    regions: np.ndarray  # (N, len(REGIONS), 3)
    cells: np.ndarray  # (N, cells, 3)
    mid_crop: np.ndarray | None = None  # a crop from the middle of the track (for the report)
    mid_landmarks: np.ndarray | None = None

    @property
    def duration_s(self) -> float:
        if len(self.times) < 2:
            return 0.0
        dt = float(np.median(np.diff(self.times)))
        return float(self.times[-1] - self.times[0] + dt)

    def frozen_share(self) -> float:
        """Share of frame-to-frame steps where the mean colour of every region is unchanged (< 0.01 level)."""
        r = self.regions
        if len(r) < 2:
            return 0.0
        d = np.nanmax(np.abs(np.diff(r, axis=0)).reshape(len(r) - 1, -1), axis=1)
        return float(np.mean(d < 0.01))


@dataclass
class VideoTraces:
    fps: float  # sampled rate of the face pipeline
    duration_s: float
    width: int
    height: int
    bits_per_pixel: float | None
    tracks: list[TrackTraces] = field(default_factory=list)
    face_summary: dict[str, Any] = field(default_factory=dict)


def bits_per_pixel(size_bytes: int | None, width: int, height: int, fps: float, duration_s: float | None) -> float | None:
    """Average coded bits per pixel per frame of the whole file (a compression-level proxy)."""
    if not size_bytes or not width or not height or not fps or not duration_s:
        return None
    return 8.0 * size_bytes / (width * height * fps * duration_s)


def video_traces(media, max_tracks: int = MAX_TRACKS) -> VideoTraces:
    """Face tracks of ``media`` (shared face pipeline) turned into region/cell colour traces.

    Raises :class:`forensics.faces.NoFaceError` / :class:`forensics.media.MediaError`.
    """
    from forensics.api import face_analysis

    fa = face_analysis(media)
    info = media.video_info()
    bpp = bits_per_pixel(media.item.size, info.width, info.height, info.fps, info.duration_s)
    tracks = sorted(fa.tracks, key=lambda t: (-len(t), t.track_id))[:max_tracks]
    out = []
    for t in tracks:
        obs = t.observations
        if len(obs) < 2:
            continue
        times, reg, cells = R.track_traces(obs)
        mid = obs[len(obs) // 2]
        out.append(TrackTraces(t.track_id, times, reg, cells, mid.crop, mid.crop_landmarks))
    try:
        summary = fa.summary()
    except Exception:  # noqa: BLE001 - the summary is informative only
        summary = {}
    return VideoTraces(fps=float(fa.fps), duration_s=float(fa.duration_s), width=fa.width, height=fa.height,
                       bits_per_pixel=bpp, tracks=out, face_summary=summary)


def media_for_path(path: str | os.PathLike):
    """A :class:`forensics.media.MediaAccess` over a file outside a case (training, benchmarks)."""
    from forensics.api import open_media

    return open_media(path)


def track_windows(tt: TrackTraces, fs: float = FS) -> tuple[F.TrackSignals, list[F.WindowResult]]:
    """Signals and window features of one track."""
    ts = F.track_signals(tt.times, tt.regions, tt.cells, fs)
    return ts, (F.track_features(ts) if len(ts.regions) >= MIN_REGIONS else [])


# ---------------------------------------------------------------------------- cache (training only)


def save_traces(path: str | os.PathLike, vt: VideoTraces) -> None:
    arrays: dict[str, Any] = {
        "version": np.array(TRACE_VERSION),
        "meta": np.array([vt.fps, vt.duration_s, vt.width, vt.height,
                          np.nan if vt.bits_per_pixel is None else vt.bits_per_pixel]),
        "track_ids": np.array([t.track_id for t in vt.tracks], dtype=np.int64),
    }
    for i, t in enumerate(vt.tracks):
        arrays[f"t{i}_times"], arrays[f"t{i}_regions"], arrays[f"t{i}_cells"] = t.times, t.regions, t.cells
    tmp = f"{path}.tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def load_traces(path: str | os.PathLike) -> VideoTraces | None:
    """Cached traces, or ``None`` if absent or from another :data:`TRACE_VERSION`."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["version"]) != TRACE_VERSION:
                return None
            fps, dur, w, h, bpp = z["meta"].tolist()
            tracks = [TrackTraces(int(tid), z[f"t{i}_times"], z[f"t{i}_regions"], z[f"t{i}_cells"])
                      for i, tid in enumerate(z["track_ids"].tolist())]
    except (OSError, KeyError, ValueError):
        return None
    return VideoTraces(fps=fps, duration_s=dur, width=int(w), height=int(h),
                       bits_per_pixel=None if np.isnan(bpp) else bpp, tracks=tracks)
