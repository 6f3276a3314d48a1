"""Face tracking across video frames: greedy IoU matching, landmark-predicted boxes between detections."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from forensics.faces.align import _DEFAULT_BOX_REL, _box_from_landmarks, _box_rel, iou
from forensics.faces.base import (
    DETECT_EVERY,
    DETECT_SIDE,
    DETECT_THRESHOLD,
    MATCH_IOU,
    MAX_DETECT_SIDE,
    MAX_MISSES,
    MAX_TRACKS,
    MIN_FACE_SIDE,
    MIN_TRACK_FRAMES,
    SPARSE_CROPS,
    SPARSE_CROPS_PER_TRACK,
    SPARSE_MATCH_FACTOR,
    FaceObservation,
    FaceTrack,
)
from forensics.faces.detect import _observe, _plausible, detect_faces

if TYPE_CHECKING:  # pragma: no cover
    pass

@dataclass
class _Track:
    track_id: int
    observations: list[FaceObservation] = field(default_factory=list)
    rel: np.ndarray = field(default_factory=lambda: _DEFAULT_BOX_REL.copy())
    misses: int = 0
    last_confirmed: int = -1  # position in observations of the last detector-confirmed observation
    active: bool = True
    sparse_seen: int = 0  # sparse observations so far
    crop_step: int = 1  # keep the crop of every crop_step-th sparse observation ...
    kept: list[tuple[int, FaceObservation]] = field(default_factory=list)  # ... these (ordinal, observation)

    def thin(self) -> int:
        """Double ``crop_step`` and drop the crops that fall off the coarser grid; returns crops freed."""
        self.crop_step *= 2
        keep, freed = [], 0
        for k, o in self.kept:
            if k % self.crop_step == 0:
                keep.append((k, o))
            else:
                o.crop = None
                freed += 1
        self.kept = keep
        return freed

    def predicted_box(self) -> np.ndarray:
        return _box_from_landmarks(self.observations[-1].landmarks, self.rel)

    def finish(self) -> None:
        """End the track, dropping observations after the last detector confirmation."""
        if not self.active:
            return
        self.active = False
        del self.observations[self.last_confirmed + 1:]
        alive = {id(o) for o in self.observations}
        self.kept = [(k, o) for k, o in self.kept if id(o) in alive]


class FaceTracker:
    """Incremental detect-landmark-track over a sequence of frames (one instance per sequence).

    Call :meth:`update` for each sampled frame in order, then :meth:`result`.

    Frames carry a ``window``: ``0, 1, ...`` for frames of a dense window (consecutive sampled frames; the
    detector runs every ``detect_every`` of them and landmarks follow the predicted boxes in between), ``-1``
    for sparse frames between windows (seconds apart: the detector runs on each). Sparse observations keep
    their crop only on an evenly spread grid, at most ``crops_per_track`` per track and ``max_sparse_crops``
    in all (the grid doubles when a cap is reached), so memory stays bounded whatever the duration.
    """

    def __init__(self, width: int, height: int, detect_every: int = DETECT_EVERY, detect_side: int = DETECT_SIDE,
                 upsample: int = 0, threshold: float = DETECT_THRESHOLD,
                 crops_per_track: int = SPARSE_CROPS_PER_TRACK, max_sparse_crops: int = SPARSE_CROPS) -> None:
        self.width, self.height = width, height
        self.detect_every = max(1, detect_every)
        self.detect_side = detect_side
        self.upsample = upsample
        self.threshold = threshold
        self.tracks: list[_Track] = []
        self.n = 0
        self.frames_with_faces = 0
        self.lost_last_frame = False
        self.window: int | None = None  # window of the previous frame
        self.n_in_window = 0
        self.crops_per_track = max(1, crops_per_track)
        self.max_sparse_crops = max(1, max_sparse_crops)
        self.sparse_crops = 0

    def _detect(self, rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """Detect at the current scale; if nothing is found in a large frame, retry at a finer scale
        and keep using it for the rest of the sequence (the HOG window is 80 px: small faces need it)."""
        def run(side: int) -> list[tuple[np.ndarray, float]]:
            return [(b, s) for b, s in detect_faces(rgb, side, self.upsample, self.threshold)
                    if math.sqrt((b[2] - b[0]) * (b[3] - b[1])) >= MIN_FACE_SIDE]

        dets = run(self.detect_side)
        finer = min(MAX_DETECT_SIDE, max(rgb.shape[:2]))
        if not dets and finer > self.detect_side * 1.25:
            dets = run(finer)
            if dets:
                self.detect_side = finer
        return dets

    def _active(self) -> list[_Track]:
        return [t for t in self.tracks if t.active]

    def update(self, rgb: np.ndarray, frame_index: int, time_s: float, window: int = 0) -> None:
        import cv2

        grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        active = self._active()
        if window != self.window:
            self.n_in_window = 0
            self.window = window
        run_detector = (window < 0 or self.n_in_window % self.detect_every == 0
                        or (self.lost_last_frame and not active))
        self.lost_last_frame = False
        self.n += 1
        self.n_in_window += 1
        assigned: dict[int, tuple[np.ndarray, bool]] = {}  # track_id -> (box, detected)
        if run_detector:
            dets = self._detect(rgb)
            # sparse frames are a second or more apart: a face moves further, so a looser match
            match_iou = MATCH_IOU if window >= 0 else MATCH_IOU * SPARSE_MATCH_FACTOR
            preds = {t.track_id: t.predicted_box() for t in active}
            pairs = sorted(((iou(preds[t.track_id], b), t.track_id, j) for t in active for j, (b, _) in enumerate(dets)),
                           reverse=True)
            used_t, used_d = set(), set()
            for score, tid, j in pairs:
                if score < match_iou or tid in used_t or j in used_d:
                    continue
                used_t.add(tid)
                used_d.add(j)
                assigned[tid] = (dets[j][0], True)
            for t in active:
                if t.track_id not in used_t:
                    t.misses += 1
                    if t.misses > MAX_MISSES:
                        t.finish()
                        self.lost_last_frame = True
                    else:
                        assigned[t.track_id] = (preds[t.track_id], False)
            n_active = len(self._active())
            for j, (b, _) in enumerate(dets):
                if j in used_d or n_active >= MAX_TRACKS:
                    continue
                t = _Track(track_id=len(self.tracks))
                self.tracks.append(t)
                assigned[t.track_id] = (b, True)
                n_active += 1
        else:
            for t in active:
                assigned[t.track_id] = (t.predicted_box(), False)

        any_face = False
        for t in self.tracks:
            if t.track_id not in assigned or not t.active:
                continue
            box, detected = assigned[t.track_id]
            obs = _observe(rgb, grey, box, frame_index, time_s, detected)
            obs.window = window
            if not _plausible(obs.landmarks, self.width, self.height):
                t.finish()
                self.lost_last_frame = True
                continue
            if detected:
                t.rel = _box_rel(obs.landmarks, box)
                t.misses = 0
                t.last_confirmed = len(t.observations)
            t.observations.append(obs)
            if window < 0:
                self._keep_sparse_crop(t, obs)
            any_face = True
        self.frames_with_faces += any_face and window >= 0

    def _keep_sparse_crop(self, t: _Track, obs: FaceObservation) -> None:
        k = t.sparse_seen
        t.sparse_seen += 1
        if k % t.crop_step:
            obs.crop = None
            return
        t.kept.append((k, obs))
        if len(t.kept) > self.crops_per_track:
            t.thin()
        self.sparse_crops = sum(len(tr.kept) for tr in self.tracks)
        while self.sparse_crops > self.max_sparse_crops:  # thin the track holding most crops (lowest id on ties)
            big = max(self.tracks, key=lambda tr: (len(tr.kept), -tr.track_id))
            self.sparse_crops -= big.thin()

    def result(self, min_track_frames: int = MIN_TRACK_FRAMES) -> list[FaceTrack]:
        """Finished tracks, small and short ones dropped, renumbered 0.. in order of first appearance."""
        keep = []
        for t in self.tracks:
            obs = t.observations
            if not obs:
                continue
            if len(obs) < min(min_track_frames, self.n):
                continue
            if float(np.median([o.size for o in obs])) < MIN_FACE_SIDE:
                continue
            keep.append(obs)
        keep.sort(key=lambda o: (o[0].frame_index, o[0].box[0]))
        return [FaceTrack(track_id=i, observations=list(obs)) for i, obs in enumerate(keep)]
