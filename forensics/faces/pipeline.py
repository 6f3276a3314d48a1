"""Entry points of the shared face pipeline: one :class:`FaceAnalysis` per item, cached on the media."""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from forensics.faces.base import (
    IMAGE_DETECT_SIDE,
    IMAGE_DETECT_THRESHOLD,
    IMAGE_PAD,
    MAX_FRAMES,
    MAX_SECONDS,
    TARGET_FPS,
    FaceAnalysis,
    FaceObservation,
    NoFaceError,
)
from forensics.faces.track import FaceTracker
from forensics.media import MediaError

if TYPE_CHECKING:  # pragma: no cover
    from forensics.media import MediaAccess

# ---------------------------------------------------------------------------- entry points


def video_sampling(fps: float, frame_count: int | None = None) -> tuple[int, int]:
    """``(stride, max_frames)`` for a video at ``fps``: every frame up to 30 fps, first MAX_SECONDS seconds."""
    fps = fps if fps and fps > 0 else 25.0
    stride = max(1, math.ceil(fps / TARGET_FPS - 1e-9))
    max_frames = min(MAX_FRAMES, max(1, math.ceil(MAX_SECONDS * fps / stride)))
    if frame_count:
        max_frames = min(max_frames, max(1, math.ceil(frame_count / stride)))
    return stride, max_frames


def _unpad(obs: FaceObservation, pad: int) -> None:
    """Express an observation made on a copy padded by ``pad`` pixels in the original image's coordinates."""
    x0, y0, x1, y1 = obs.box
    obs.box = (x0 - pad, y0 - pad, x1 - pad, y1 - pad)
    obs.landmarks = (obs.landmarks - pad).astype(np.float32)
    m = np.array(obs.matrix, dtype=np.float64)
    m[:, 2] += m[:, :2] @ np.array([pad, pad], dtype=np.float64)  # crop = M (x + pad)
    obs.matrix = m


def analyse_image(rgb: np.ndarray) -> FaceAnalysis:
    """Face analysis of one still image (no caching; see :func:`face_analysis`). Raises :class:`NoFaceError`."""
    import cv2

    h, w = rgb.shape[:2]
    tracker = FaceTracker(w, h, detect_side=IMAGE_DETECT_SIDE, threshold=IMAGE_DETECT_THRESHOLD)
    tracker.update(rgb, 0, 0.0)
    pad = 0
    if not tracker._active():
        # Tightly cropped portraits: the HOG window needs the whole face plus a rim, so retry on a copy
        # with a black border (the aligned crop is the same: align_face pads with black too).
        pad = int(round(IMAGE_PAD * max(h, w)))
        padded = cv2.copyMakeBorder(np.ascontiguousarray(rgb), pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        tracker = FaceTracker(w + 2 * pad, h + 2 * pad, detect_side=IMAGE_DETECT_SIDE,
                              threshold=IMAGE_DETECT_THRESHOLD)
        tracker.update(padded, 0, 0.0)
    if not tracker._active() and max(h, w) <= 2 * IMAGE_DETECT_SIDE:  # small faces: one upsampling pass
        pad = 0
        tracker = FaceTracker(w, h, detect_side=IMAGE_DETECT_SIDE, upsample=1, threshold=IMAGE_DETECT_THRESHOLD)
        tracker.update(rgb, 0, 0.0)
    tracks = tracker.result(min_track_frames=1)
    if pad:
        for tr in tracks:
            for o in tr.observations:
                _unpad(o, pad)
    if not tracks:
        raise NoFaceError("No faces detected. Cannot process the image.")
    return FaceAnalysis(tracks=tracks, frames_sampled=1, fps=0.0, duration_s=0.0, width=w, height=h, stride=1,
                        is_image=True, frames_with_faces=1)


def analyse_frames(frames: Iterable[Any], width: int, height: int, fps: float, stride: int) -> FaceAnalysis:
    """Face analysis of a sequence of :class:`forensics.media.Frame`. Raises :class:`NoFaceError`."""
    tracker = FaceTracker(width, height)
    n, t_first, t_last = 0, None, 0.0
    for fr in frames:
        tracker.update(fr.rgb, fr.index, fr.time_s)
        n += 1
        t_first = fr.time_s if t_first is None else t_first
        t_last = fr.time_s
    eff_fps = fps / stride if fps else 0.0
    duration = (t_last - (t_first or 0.0)) + (1.0 / eff_fps if eff_fps else 0.0) if n else 0.0
    tracks = tracker.result()
    if not tracks:
        raise NoFaceError(f"No faces detected. Cannot process the video ({n} frames sampled).")
    return FaceAnalysis(tracks=tracks, frames_sampled=n, fps=eff_fps, duration_s=duration, width=width,
                        height=height, stride=stride, frames_with_faces=tracker.frames_with_faces)


def face_analysis(media: "MediaAccess") -> FaceAnalysis:
    """Faces of one evidence item, computed once and shared by all detectors (``media.shared("faces")``).

    Raises
    ------
    NoFaceError
        No face found (a :class:`forensics.media.MediaError` whose message starts with
        "No faces detected"); detectors should report "not applicable".
    MediaError
        The media cannot be decoded.
    """
    def compute() -> FaceAnalysis:
        if media.item.kind == "image":
            return analyse_image(np.asarray(media.image_rgb()))
        if media.item.kind != "video":
            raise MediaError(f"face analysis needs an image or a video, not {media.item.kind}")
        info = media.video_info()
        stride, max_frames = video_sampling(info.fps, info.frame_count)
        return analyse_frames(media.frames(stride=stride, max_frames=max_frames), info.width, info.height,
                              info.fps, stride)

    return media.shared("faces", compute)



def face_analysis_for_file(path: str | os.PathLike) -> FaceAnalysis:
    """:func:`face_analysis` of a file outside any case (training and evaluation data), same pipeline.

    The kind (image / video) is identified from the content (:func:`forensics.media.open_media`).
    Raises :class:`NoFaceError` or :class:`forensics.media.MediaError`.
    """
    from forensics.media import open_media

    return face_analysis(open_media(path))


def evenly_spaced(observations: list[FaceObservation], k: int) -> list[FaceObservation]:
    """At most ``k`` observations, evenly spaced over the track (all of them when it is shorter)."""
    n = len(observations)
    if n <= k:
        return list(observations)
    idx = np.unique(np.round(np.linspace(0, n - 1, k)).astype(int))
    return [observations[i] for i in idx]
