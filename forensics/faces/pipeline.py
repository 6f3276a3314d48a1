"""Entry points of the shared face pipeline: one :class:`FaceAnalysis` per item, cached on the media."""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import numpy as np

from forensics.faces.base import (
    DENSE_SHARE,
    DENSE_WINDOWS,
    IMAGE_DETECT_SIDE,
    IMAGE_DETECT_THRESHOLD,
    IMAGE_PAD,
    MAX_FRAMES,
    MAX_SECONDS,
    MIN_TRACK_FRAMES,
    SPARSE_FRAMES,
    SPARSE_INTERVAL_S,
    TARGET_FPS,
    FaceAnalysis,
    FaceObservation,
    FaceTrack,
    NoFaceError,
)
from forensics.faces.track import FaceTracker
from forensics.media import MediaError

if TYPE_CHECKING:  # pragma: no cover
    from forensics.media import MediaAccess

# ---------------------------------------------------------------------------- entry points


def video_sampling(fps: float, frame_count: int | None = None) -> tuple[int, int]:
    """``(stride, max_frames)`` of one dense window for a video at ``fps``: every frame up to 30 fps, at most
    MAX_SECONDS seconds and MAX_FRAMES frames per window (see :class:`SamplingPlan` for the whole video)."""
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
                        is_image=True, frames_with_faces=1, video_tracks=tracks)


class SamplingPlan:
    """Which decoded frames of a video the face pipeline samples (the whole duration is covered).

    * **Dense windows**: every ``stride``-th frame (every frame up to :data:`TARGET_FPS`) inside windows of
      :data:`MAX_SECONDS` (at most :data:`MAX_FRAMES` frames each) -- the consecutive frames blink and rPPG
      need -- centred at evenly spread times: one window per ``1 / DENSE_SHARE`` window lengths of video, at
      least one and at most :data:`DENSE_WINDOWS` (one window up to 2 minutes, two beyond), so that dense
      work stays a bounded share of the decoding. A video no longer than one window is dense from start
      to end (as before).
    * **Sparse frames** between the windows: the first frame of every ``sparse_interval_s`` slot
      (:data:`SPARSE_INTERVAL_S`, growing as ``duration / SPARSE_FRAMES`` past :data:`SPARSE_FRAMES` slots),
      with the face detector on each, so every second is looked at with bounded cost.

    ``select(index, time_s)`` is the predicate given to :meth:`forensics.media.MediaAccess.frames` (stateful:
    call it once per decoded frame, in order); ``window_of(time_s)`` is the dense window (or -1).
    """

    def __init__(self, fps: float, frame_count: int | None = None, duration_s: float | None = None) -> None:
        self.fps = fps if fps and fps > 0 else 25.0
        self.stride, self.window_frames = video_sampling(self.fps, frame_count)
        window_s = self.window_frames * self.stride / self.fps
        if not duration_s and frame_count:
            duration_s = frame_count / self.fps
        self.duration_s = float(duration_s) if duration_s else None
        if self.duration_s is not None and self.duration_s <= window_s + 0.5 / self.fps:
            self.windows = [(0.0, math.inf)]  # short video: dense from start to end
            self.sparse_interval_s = 0.0
        elif self.duration_s is None:  # unknown length: one dense window at the start, then sparse
            self.windows = [(0.0, window_s)]
            self.sparse_interval_s = SPARSE_INTERVAL_S
        else:
            d = self.duration_s
            n = int(min(DENSE_WINDOWS, max(1, math.floor(d * DENSE_SHARE / window_s + 1e-9))))
            centres = [(i + 0.5) * d / n for i in range(n)]
            starts = [min(max(0.0, c - window_s / 2), max(0.0, d - window_s)) for c in centres]
            self.windows = [(a, a + window_s) for a in starts]
            self.sparse_interval_s = max(SPARSE_INTERVAL_S, (d - n * window_s) / SPARSE_FRAMES)
        self._slot = None
        self._in_window = [0] * len(self.windows)
        self._cap = self.window_frames  # frames per dense window: at most MAX_FRAMES

    def window_of(self, time_s: float) -> int:
        for i, (a, b) in enumerate(self.windows):
            if a - 1e-6 <= time_s < b - 1e-6:
                return i
        return -1

    def select(self, index: int, time_s: float) -> bool:
        w = self.window_of(time_s)
        if w >= 0:
            if index % self.stride or self._in_window[w] >= self._cap:
                return False
            self._in_window[w] += 1
            return True
        slot = math.floor(time_s / self.sparse_interval_s + 1e-9) if self.sparse_interval_s else None
        if slot is None or slot == self._slot:
            return False
        self._slot = slot
        return True

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": ("dense windows: every frame up to 30 fps; between them one frame per sparse interval "
                     "(face detector on each); crops of sparse frames kept for an evenly spread subset"),
            "dense_windows_s": [[round(a, 3), None if not math.isfinite(b) else round(b, 3)] for a, b in self.windows],
            "dense_stride": self.stride,
            "sparse_interval_s": round(self.sparse_interval_s, 4),
        }


PREFETCH = 4  # decoded frames buffered ahead of the face pipeline (constant memory: ~25 MB at 1080p)


def prefetch(frames: Iterable[Any], depth: int = PREFETCH) -> Iterator[Any]:
    """Iterate ``frames`` in a background thread, ``depth`` items ahead, in the same order.

    Decoding and colour conversion (FFmpeg, outside the GIL) then overlap with the face pipeline in the
    caller's thread, so both cores work. Exceptions from the producer are re-raised here; stopping early
    closes the producer (and the container) cleanly.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(x: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for fr in frames:
                if not put(("frame", fr)):
                    break
            else:
                put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(("error", exc))
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()

    t = threading.Thread(target=run, name="forensics-decode", daemon=True)
    t.start()
    try:
        while True:
            kind, x = q.get()
            if kind == "frame":
                yield x
            elif kind == "end":
                return
            else:
                raise x
    finally:
        stop.set()
        t.join()


def analyse_frames(frames: Iterable[Any], width: int, height: int, fps: float, stride: int,
                   plan: SamplingPlan | None = None, sampled: list | None = None) -> FaceAnalysis:
    """Face analysis of a sequence of :class:`forensics.media.Frame`. Raises :class:`NoFaceError`.

    With a :class:`SamplingPlan`, frames in its dense windows are tracked densely and the others as
    sparse frames; ``sampled`` (a list) receives ``(frame_index, time_s, window)`` for every frame seen.
    """
    tracker = FaceTracker(width, height)
    n = 0
    for fr in frames:
        w = plan.window_of(fr.time_s) if plan is not None else 0
        tracker.update(fr.rgb, fr.index, fr.time_s, window=w)
        n += 1
        if sampled is not None:
            sampled.append((fr.index, fr.time_s, w))
    eff_fps = fps / stride if fps else 0.0
    video_tracks = tracker.result()
    tracks, dense_times = _dense_tracks(video_tracks, sampled, eff_fps)
    if sampled is None:  # no plan: every frame is dense
        dense_n = n
    else:
        dense_n = sum(1 for s in sampled if s[2] >= 0)
    if not video_tracks:
        raise NoFaceError(f"No faces detected. Cannot process the video ({n} frames sampled).")
    if not tracks:  # faces only in sparse frames: sequence detectors have nothing dense to read
        exc = NoFaceError(f"No faces detected in the densely sampled windows ({dense_n} frames); faces were found "
                          "only in sparse frames between them.")
        exc.video_tracks = video_tracks
        raise exc
    return FaceAnalysis(tracks=tracks, frames_sampled=dense_n, fps=eff_fps, duration_s=dense_times,
                        width=width, height=height, stride=stride, frames_with_faces=tracker.frames_with_faces,
                        video_tracks=video_tracks, sampling=plan.as_dict() if plan is not None else None)


def _dense_tracks(video_tracks: list[FaceTrack], sampled: list | None, eff_fps: float
                  ) -> tuple[list[FaceTrack], float]:
    """Cut whole-duration tracks into their runs inside one dense window (uniform sampling, every crop kept).

    Returns the dense tracks (renumbered 0.. by first appearance) and the dense time span analysed.
    """
    per_window: dict[int, list[float]] = {}
    for _, t, w in (sampled or []):
        if w >= 0:
            per_window.setdefault(w, []).append(t)
    if sampled is None:
        return [FaceTrack(track_id=t.track_id, observations=list(t.observations)) for t in video_tracks], (
            _span(sorted(o.time_s for t in video_tracks for o in t.observations), eff_fps))
    runs = []
    for tr in video_tracks:
        run: list[FaceObservation] = []
        for o in tr.observations + [None]:
            if o is not None and o.window >= 0 and (not run or run[-1].window == o.window):
                run.append(o)
                continue
            if run:
                n_win = len(per_window.get(run[0].window, []))
                if len(run) >= min(MIN_TRACK_FRAMES, n_win):
                    runs.append(run)
            run = [o] if o is not None and o.window >= 0 else []
    runs.sort(key=lambda r: (r[0].frame_index, r[0].box[0]))
    span = sum(_span(ts, eff_fps) for ts in per_window.values())
    return [FaceTrack(track_id=i, observations=r) for i, r in enumerate(runs)], span


def _span(times: list[float], eff_fps: float) -> float:
    if not times:
        return 0.0
    return (times[-1] - times[0]) + (1.0 / eff_fps if eff_fps else 0.0)


def coverage_record(sampled: list, video_tracks: list[FaceTrack], duration_s: float | None, fps: float,
                    frames_decoded: int, frames_expected: int | None, last_decoded_s: float | None,
                    decode_error: str | None) -> dict[str, Any]:
    """Which seconds of a video were analysed, and why the others were not.

    Rule: each sampled frame stands for the time until the next sampled frame (the last one for one sampling
    interval, up to the end of the decoded stream). A sampled frame with an observation in a kept face track
    is *face evidence*; sampled frames without one make "no face" gaps; the time after the last decodable
    frame is a "decode error" gap (or "not decoded" when the stream simply ends early).
    """
    frame_dt = 1.0 / fps if fps else 0.04
    end_decoded = (last_decoded_s + frame_dt) if last_decoded_s is not None else 0.0
    duration = float(duration_s) if duration_s else end_decoded
    duration = max(duration, end_decoded)
    with_face = {o.frame_index for t in video_tracks for o in t.observations}
    pts = sorted((t, idx) for idx, t, _ in sampled)
    spans = []  # (start, end, has_face)
    for k, (t, idx) in enumerate(pts):
        nxt = pts[k + 1][0] if k + 1 < len(pts) else None
        if nxt is None:
            step = (t - pts[k - 1][0]) if k else frame_dt
            nxt = min(end_decoded, t + max(step, frame_dt)) if end_decoded > t else t + frame_dt
        a = 0.0 if k == 0 and t <= 2 * frame_dt else t
        spans.append((a, min(nxt, duration), idx in with_face))
    gaps: list[list[Any]] = []

    def add_gap(a: float, b: float, reason: str) -> None:
        if b - a <= 1e-6:
            return
        if gaps and gaps[-1][2] == reason and abs(gaps[-1][1] - a) < 1e-6:
            gaps[-1][1] = b
        else:
            gaps.append([a, b, reason])

    if pts and pts[0][0] > 2 * frame_dt:
        add_gap(0.0, pts[0][0], "no frame: the stream starts later")
    for a, b, face in spans:
        if not face:
            add_gap(a, b, "no face")
    analysed = sum(max(0.0, b - a) for a, b, _ in spans)
    face_s = sum(max(0.0, b - a) for a, b, f in spans if f)
    analysed_end = spans[-1][1] if spans else 0.0
    if duration - analysed_end > 1.5 * frame_dt:
        why = (f"decode error: {decode_error}" if decode_error
               else "not decoded: the stream ends before its stated duration")
        add_gap(analysed_end, duration, why)
    return {
        "duration_s": round(duration, 3),
        "analysed_s": round(analysed, 3),
        "face_s": round(face_s, 3),
        "frames_decoded": int(frames_decoded),
        "frames_expected": None if frames_expected is None else int(frames_expected),
        "frames_sampled": len(pts),
        "gaps": [[round(a, 3), round(b, 3), r] for a, b, r in gaps],
        "rule": ("each sampled frame stands for the time until the next one; 'no face' = sampled but no tracked "
                 "face; 'decode error' / 'not decoded' = after the last decodable frame"),
    }


def face_analysis(media: "MediaAccess") -> FaceAnalysis:
    """Faces of one evidence item, computed once and shared by all detectors (``media.shared("faces")``).

    Videos are sampled over their whole duration (:class:`SamplingPlan`); the coverage record
    (:func:`coverage_record`) is stored as ``media.shared("coverage")`` even when no face is found.

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
        plan = SamplingPlan(info.fps, info.frame_count, info.duration_s)
        sampled: list = []
        fa, tracks = None, []
        try:
            fa = analyse_frames(prefetch(media.frames(select=plan.select)), info.width, info.height, plan.fps,
                                plan.stride, plan=plan, sampled=sampled)
            tracks = fa.video_tracks
        except NoFaceError as exc:
            tracks = getattr(exc, "video_tracks", [])
            raise
        finally:
            cov = coverage_record(sampled, tracks, info.duration_s, plan.fps, media.frames_decoded,
                                  info.frame_count, media.last_decoded_s, media.decode_error)
            cov["sampling"] = plan.as_dict()
            media.shared("coverage", lambda: cov)
            if fa is not None:
                fa.coverage = cov
        return fa

    return media.shared("faces", compute)


def peek_shared(media: "MediaAccess", key: str) -> Any:
    """What ``media.shared(key)`` holds if it was computed successfully, else ``None`` (computes nothing)."""
    state, value = media._cache.get(key, ("missing", None))  # read-only look at the per-item cache
    return value if state == "ok" else None


def video_coverage(media: "MediaAccess") -> dict[str, Any] | None:
    """The coverage record of a video item's face analysis (``None`` if face analysis never ran on it)."""
    return peek_shared(media, "coverage") if media.item.kind == "video" else None


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
