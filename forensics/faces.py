"""The shared face pipeline: detect, landmark, align and track faces once per item.

Every face-based detector (FWA, blink, rPPG, ResNeXt-LSTM) reads the same
:class:`FaceAnalysis`, computed once per evidence item and cached with
``media.shared("faces", ...)``::

    from forensics.faces import NoFaceError, face_analysis

    try:
        fa = face_analysis(media)
    except NoFaceError as exc:
        return self.not_applicable(str(exc))
    for track in fa.tracks:
        for obs in track.observations:
            obs.crop            # CROP_SIZE x CROP_SIZE x 3 uint8 RGB, aligned, with margin
            obs.crop_landmarks  # (68, 2) float32 in crop coordinates

Pipeline
--------
* **Sampling** (video): every ``stride``-th decoded frame with
  ``stride = ceil(fps / 30)`` -- every frame up to 30 fps, so blink and rPPG
  detectors get a dense, evenly spaced sequence -- for at most the first
  :data:`MAX_SECONDS` seconds and :data:`MAX_FRAMES` sampled frames. Frames are
  streamed; only the aligned crops are kept. A still image is one frame.
* **Detection**: dlib's HOG + linear-SVM frontal face detector (Dalal & Triggs
  2005; dlib, D. King, JMLR 2009) on a grey copy of the frame downscaled to about
  :data:`DETECT_SIDE` pixels on its long side (boxes are mapped back to full-frame
  coordinates); if it finds nothing there it retries at :data:`MAX_DETECT_SIDE`
  (the HOG window is 80 px, so smaller faces need it) and keeps that scale. In
  videos it runs every :data:`DETECT_EVERY` sampled frames and on the frame after
  a track is lost.
* **Landmarks**: dlib's 68-point shape predictor (Kazemi & Sullivan, CVPR 2014;
  iBUG 300-W point order) on every sampled frame, at full resolution, from the
  detector box or -- between detections -- from the box predicted from the
  previous frame's landmarks.
* **Tracking**: greedy IoU matching of detections to tracks; a track that the
  detector misses :data:`MAX_MISSES` detection rounds in a row ends (its
  unconfirmed tail is dropped). Faces smaller than :data:`MIN_FACE_SIDE` pixels and
  tracks shorter than :data:`MIN_TRACK_FRAMES` observations are dropped.
* **Alignment**: :func:`align_face` -- a least-squares similarity transform
  (Umeyama 1991) taking eye centres, nose tip and mouth corners to a fixed
  template, with a margin so that forehead, chin and cheeks are inside the crop.

Model provenance
----------------
The 68-point model ships in the PyPI package ``face-recognition-models`` (which
declares MIT/CC0), but it was trained on the iBUG 300-W data set, whose licence
*excludes commercial use*. :func:`pipeline_info` returns the file, its SHA-256
and this caveat; detectors put it in ``Finding.details["face_pipeline"]`` so that
the report shows it.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from forensics.media import MediaError

if TYPE_CHECKING:  # pragma: no cover
    from forensics.media import MediaAccess

CROP_SIZE = 224  # side of the aligned face crop, pixels
DEFAULT_MARGIN = 0.25  # crop margin around the template face, as a fraction of the template's side
MAX_SECONDS = 20.0  # videos: analyse at most the first 20 s ...
MAX_FRAMES = 600  # ... and at most 600 sampled frames
TARGET_FPS = 30.0  # sample every frame up to 30 fps
DETECT_SIDE = 480  # the HOG detector runs on a copy downscaled to this long side ...
MAX_DETECT_SIDE = 960  # ... or, when it finds nothing there (faces under ~17 % of the frame), at this side
IMAGE_DETECT_SIDE = 800  # still images: a little more resolution, they are one frame
DETECT_EVERY = 5  # videos: run the detector every N sampled frames (and when nothing is tracked)
MAX_MISSES = 2  # detection rounds a track may go unconfirmed before it ends
MATCH_IOU = 0.3  # IoU needed to match a detection to a track
DETECT_THRESHOLD = 0.0  # videos: HOG score threshold (dlib's default); spurious boxes make short tracks, dropped
IMAGE_DETECT_THRESHOLD = 0.2  # still images: one shot, no temporal confirmation, so be a little stricter
IMAGE_PAD = 0.3  # still images without a face found: retry with a black border of 30 % of the long side
MIN_FACE_SIDE = 36  # pixels (full frame); smaller faces carry too little detail
MIN_TRACK_FRAMES = 5  # videos: shorter tracks are dropped (unless the video itself is shorter)
MAX_TRACKS = 8  # at most this many faces tracked at once (the largest ones)

# Five-point template (x, y) in a unit face square, from the widely used
# 112x112 ArcFace alignment template (Deng et al., CVPR 2019) divided by 112:
# image-left eye centre, image-right eye centre, nose tip, left and right mouth corners.
TEMPLATE_5 = np.array([
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
], dtype=np.float64) / 112.0

# iBUG 68-point index groups
JAW = list(range(0, 17))
RIGHT_BROW = list(range(17, 22))  # subject's right = image left
LEFT_BROW = list(range(22, 27))
NOSE = list(range(27, 36))
RIGHT_EYE = list(range(36, 42))  # image-left eye
LEFT_EYE = list(range(42, 48))  # image-right eye
MOUTH = list(range(48, 68))

LANDMARK_FILE = "shape_predictor_68_face_landmarks.dat"
LANDMARK_SHA256 = "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f"
LANDMARK_LICENCE = (
    "dlib 68-point shape predictor (D. King), distributed in the PyPI package face-recognition-models; "
    "trained on the iBUG 300-W data set, whose licence excludes commercial use: results that rely on these "
    "landmarks are for research / non-commercial use unless a commercial licence for 300-W is obtained."
)


class NoFaceError(MediaError):
    """No usable face in the item. The message starts with "No faces detected"."""


# ---------------------------------------------------------------------------- data


@dataclass
class FaceObservation:
    """One face in one sampled frame."""

    frame_index: int  # index of the decoded frame in the stream (0 for an image)
    time_s: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1, full-frame pixels (dlib-detector-like box)
    landmarks: np.ndarray  # (68, 2) float32, full-frame coords, iBUG 300-W order
    crop: np.ndarray  # CROP_SIZE x CROP_SIZE x 3 uint8 RGB, aligned with margin
    crop_landmarks: np.ndarray  # (68, 2) float32 in crop coords
    matrix: np.ndarray  # (2, 3) float64 affine, frame -> crop
    detected: bool = False  # True when the detector confirmed this box in this frame

    @property
    def size(self) -> float:
        """Face size in full-frame pixels (geometric mean of the box sides)."""
        x0, y0, x1, y1 = self.box
        return float(math.sqrt(max(x1 - x0, 0) * max(y1 - y0, 0)))


@dataclass
class FaceTrack:
    track_id: int
    observations: list[FaceObservation] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.observations)

    @property
    def times(self) -> np.ndarray:
        return np.array([o.time_s for o in self.observations], dtype=np.float64)

    @property
    def frame_indices(self) -> np.ndarray:
        return np.array([o.frame_index for o in self.observations], dtype=np.int64)


@dataclass
class FaceAnalysis:
    tracks: list[FaceTrack]
    frames_sampled: int
    fps: float  # effective sampling rate: frames per second of the sampled sequence (0 for an image)
    duration_s: float  # time span analysed (0 for an image)
    width: int
    height: int
    stride: int  # every stride-th decoded frame was sampled
    is_image: bool = False
    frames_with_faces: int = 0

    @property
    def largest_track(self) -> FaceTrack:
        return max(self.tracks, key=lambda t: (len(t), np.mean([o.size for o in t.observations])))

    def summary(self) -> dict[str, Any]:
        """A small JSON-able description for Finding.details."""
        return {
            "tracks": len(self.tracks),
            "observations": sum(len(t) for t in self.tracks),
            "frames_sampled": self.frames_sampled,
            "frames_with_faces": self.frames_with_faces,
            "sampled_fps": round(self.fps, 4),
            "stride": self.stride,
            "duration_analysed_s": round(self.duration_s, 3),
            "frame_size": [self.width, self.height],
            **pipeline_info(),
        }


# ---------------------------------------------------------------------------- models


def landmark_model_path() -> str:
    """Path of dlib's 68-point model inside ``face-recognition-models`` (not imported: it needs pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MediaError("face landmark model unavailable: the package face-recognition-models is not installed")
    path = os.path.join(list(spec.submodule_search_locations)[0], "models", LANDMARK_FILE)
    if not os.path.isfile(path):
        raise MediaError(f"face landmark model unavailable: {path} is missing")
    return path


@functools.lru_cache(maxsize=1)
def _landmark_sha256(path: str) -> str:
    from forensics.models import sha256_file

    return sha256_file(path)


@functools.lru_cache(maxsize=1)
def pipeline_info() -> dict[str, Any]:
    """Provenance of the face pipeline for reports: detector, landmark model file, SHA-256, licence."""
    import importlib.metadata as md

    try:
        dlib_version = md.version("dlib-bin")
    except md.PackageNotFoundError:  # pragma: no cover - plain dlib
        import dlib

        dlib_version = getattr(dlib, "__version__", "?")
    path = landmark_model_path()
    return {
        "face_detector": f"dlib HOG frontal face detector (dlib {dlib_version})",
        "landmark_model": {
            "file": LANDMARK_FILE,
            "package": "face-recognition-models",
            "sha256": _landmark_sha256(path),
            "expected_sha256": LANDMARK_SHA256,
            "licence": LANDMARK_LICENCE,
        },
        "alignment": f"similarity transform (eyes, nose tip, mouth corners) to a {CROP_SIZE}px crop, margin {DEFAULT_MARGIN}",
    }


@functools.lru_cache(maxsize=1)
def _dlib_models():
    import dlib

    path = landmark_model_path()
    actual = _landmark_sha256(path)
    if actual != LANDMARK_SHA256:
        raise MediaError(
            f"face landmark model {path} has SHA-256 {actual[:16]}…, expected {LANDMARK_SHA256[:16]}…; "
            "refusing to use an altered model"
        )
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(path)


# ---------------------------------------------------------------------------- geometry


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, translation) taking ``src`` to ``dst``.

    Umeyama, "Least-squares estimation of transformation parameters between two
    point patterns", IEEE TPAMI 13(4), 1991.

    Parameters
    ----------
    src, dst : (N, 2) arrays, N >= 2

    Returns
    -------
    (2, 3) float64 affine matrix ``M`` with ``dst ≈ src @ M[:, :2].T + M[:, 2]``.

    Example
    -------
    >>> src = np.array([[0., 0.], [1., 0.], [0., 1.]])
    >>> np.round(similarity_transform(src, 2 * src + 3), 6)
    array([[2., 0., 3.],
           [0., 2., 3.]])
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    var_s = (s ** 2).sum() / len(src)
    scale = float(np.trace(np.diag(sig) @ sign) / var_s) if var_s > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """Eye centres, nose tip and mouth corners (image-left first) from 68 iBUG landmarks."""
    lm = np.asarray(landmarks, dtype=np.float64)
    return np.stack([lm[RIGHT_EYE].mean(0), lm[LEFT_EYE].mean(0), lm[30], lm[48], lm[54]])


def template_points(size: int = CROP_SIZE, margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """Where :func:`align_face` puts the five reference points in a ``size`` crop with ``margin``."""
    return (TEMPLATE_5 + margin) / (1.0 + 2.0 * margin) * size


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine to (N, 2) points."""
    p = np.asarray(points, dtype=np.float64)
    return p @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine."""
    import cv2

    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def align_face(rgb: np.ndarray, landmarks: np.ndarray, size: int = CROP_SIZE,
               margin: float = DEFAULT_MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """Cut out an upright, scale-normalised face.

    A similarity transform (:func:`similarity_transform`) maps the eye centres,
    nose tip and mouth corners of ``landmarks`` onto :data:`TEMPLATE_5`, placed
    in a ``size`` x ``size`` crop with ``margin`` (fraction of the template face
    side on every edge; 0.25 keeps forehead, chin and cheeks). Pixels outside the
    frame are black.

    Parameters
    ----------
    rgb : (H, W, 3) uint8
    landmarks : (68, 2) full-frame coordinates, iBUG order
    size : crop side in pixels
    margin : float

    Returns
    -------
    crop : (size, size, 3) uint8
    matrix : (2, 3) float64, frame -> crop (use :func:`transform_points` on landmarks,
        :func:`invert_affine` to go back)
    """
    import cv2

    matrix = similarity_transform(five_points(landmarks), template_points(size, margin))
    crop = cv2.warpAffine(np.ascontiguousarray(rgb), matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return crop, matrix


def iou(a: Iterable[float], b: Iterable[float]) -> float:
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
    ih = max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def _landmark_box(lm: np.ndarray) -> np.ndarray:
    return np.array([lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max(), lm[:, 1].max()], dtype=np.float64)


# Default relation between the landmarks' bounding box and a dlib HOG box, used until a track has
# been matched to a detection (then its own measured relation is used): (dx0, dy0, dx1, dy1) as
# fractions of the landmark box width/height.
_DEFAULT_BOX_REL = np.array([0.02, 0.12, -0.02, -0.06])


def _box_from_landmarks(lm: np.ndarray, rel: np.ndarray) -> np.ndarray:
    lb = _landmark_box(lm)
    w, h = lb[2] - lb[0], lb[3] - lb[1]
    return lb + rel * np.array([w, h, w, h])


def _box_rel(lm: np.ndarray, box: np.ndarray) -> np.ndarray:
    lb = _landmark_box(lm)
    w, h = max(lb[2] - lb[0], 1.0), max(lb[3] - lb[1], 1.0)
    return (np.asarray(box, dtype=np.float64) - lb) / np.array([w, h, w, h])


# ---------------------------------------------------------------------------- detection


def detect_faces(rgb: np.ndarray, detect_side: int = DETECT_SIDE, upsample: int = 0,
                 threshold: float = DETECT_THRESHOLD) -> list[tuple[np.ndarray, float]]:
    """dlib HOG detections as ``[(box x0,y0,x1,y1 full-frame float64, score)]``, best first."""
    import cv2

    detector, _ = _dlib_models()
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    scale = min(1.0, detect_side / max(h, w))
    small = grey if scale >= 1.0 else cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))),
                                                 interpolation=cv2.INTER_AREA)
    rects, scores, _ = detector.run(small, upsample, float(threshold))
    sx, sy = w / small.shape[1], h / small.shape[0]
    out = []
    for r, s in zip(rects, scores):
        box = np.array([r.left() * sx, r.top() * sy, (r.right() + 1) * sx, (r.bottom() + 1) * sy], dtype=np.float64)
        out.append((box, float(s)))
    out.sort(key=lambda bs: -bs[1])
    return out


def landmarks_in_box(grey: np.ndarray, box: np.ndarray) -> np.ndarray:
    """68 landmarks (float32, full-frame coords) from dlib's shape predictor started at ``box``."""
    import dlib

    _, predictor = _dlib_models()
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    shape = predictor(grey, dlib.rectangle(x0, y0, max(x1 - 1, x0 + 1), max(y1 - 1, y0 + 1)))
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


def _observe(rgb: np.ndarray, grey: np.ndarray, box: np.ndarray, frame_index: int, time_s: float,
             detected: bool) -> FaceObservation:
    lm = landmarks_in_box(grey, box)
    crop, matrix = align_face(rgb, lm)
    crop_lm = transform_points(lm, matrix).astype(np.float32)
    crop.setflags(write=False)
    return FaceObservation(frame_index=frame_index, time_s=time_s, box=tuple(float(v) for v in box), landmarks=lm,
                           crop=crop, crop_landmarks=crop_lm, matrix=matrix, detected=detected)


def _plausible(lm: np.ndarray, width: int, height: int) -> bool:
    lb = _landmark_box(lm)
    w, h = lb[2] - lb[0], lb[3] - lb[1]
    if w < MIN_FACE_SIDE * 0.5 or h < MIN_FACE_SIDE * 0.5 or not 0.4 < w / max(h, 1e-6) < 2.5:
        return False
    cx, cy = (lb[0] + lb[2]) / 2, (lb[1] + lb[3]) / 2
    return -0.1 * width <= cx <= 1.1 * width and -0.1 * height <= cy <= 1.1 * height


@dataclass
class _Track:
    track_id: int
    observations: list[FaceObservation] = field(default_factory=list)
    rel: np.ndarray = field(default_factory=lambda: _DEFAULT_BOX_REL.copy())
    misses: int = 0
    last_confirmed: int = -1  # position in observations of the last detector-confirmed observation
    active: bool = True

    def predicted_box(self) -> np.ndarray:
        return _box_from_landmarks(self.observations[-1].landmarks, self.rel)

    def finish(self) -> None:
        """End the track, dropping observations after the last detector confirmation."""
        if not self.active:
            return
        self.active = False
        del self.observations[self.last_confirmed + 1:]


class FaceTracker:
    """Incremental detect-landmark-track over a sequence of frames (one instance per sequence).

    Call :meth:`update` for each sampled frame in order, then :meth:`result`.
    """

    def __init__(self, width: int, height: int, detect_every: int = DETECT_EVERY, detect_side: int = DETECT_SIDE,
                 upsample: int = 0, threshold: float = DETECT_THRESHOLD) -> None:
        self.width, self.height = width, height
        self.detect_every = max(1, detect_every)
        self.detect_side = detect_side
        self.upsample = upsample
        self.threshold = threshold
        self.tracks: list[_Track] = []
        self.n = 0
        self.frames_with_faces = 0
        self.lost_last_frame = False

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

    def update(self, rgb: np.ndarray, frame_index: int, time_s: float) -> None:
        import cv2

        grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        active = self._active()
        run_detector = self.n % self.detect_every == 0 or (self.lost_last_frame and not active)
        self.lost_last_frame = False
        self.n += 1
        assigned: dict[int, tuple[np.ndarray, bool]] = {}  # track_id -> (box, detected)
        if run_detector:
            dets = self._detect(rgb)
            preds = {t.track_id: t.predicted_box() for t in active}
            pairs = sorted(((iou(preds[t.track_id], b), t.track_id, j) for t in active for j, (b, _) in enumerate(dets)),
                           reverse=True)
            used_t, used_d = set(), set()
            for score, tid, j in pairs:
                if score < MATCH_IOU or tid in used_t or j in used_d:
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
            if not _plausible(obs.landmarks, self.width, self.height):
                t.finish()
                self.lost_last_frame = True
                continue
            if detected:
                t.rel = _box_rel(obs.landmarks, box)
                t.misses = 0
                t.last_confirmed = len(t.observations)
            t.observations.append(obs)
            any_face = True
        self.frames_with_faces += any_face

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


def draw_landmarks(rgb: np.ndarray, landmarks: np.ndarray, box: Iterable[float] | None = None) -> np.ndarray:
    """A copy of ``rgb`` with landmarks (and optionally a box) drawn, for report artifacts."""
    import cv2

    out = np.array(rgb, copy=True)
    r = max(1, round(max(out.shape[:2]) / 300))
    for x, y in np.asarray(landmarks):
        cv2.circle(out, (int(round(x)), int(round(y))), r, (0, 255, 0), -1, lineType=cv2.LINE_AA)
    if box is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 200, 0), r)
    return out


def face_analysis_for_file(path: str | os.PathLike) -> FaceAnalysis:
    """:func:`face_analysis` of a file outside any case (training and evaluation data), same pipeline.

    The kind (image / video) is taken from the extension. Raises :class:`NoFaceError`
    or :class:`forensics.media.MediaError`.
    """
    from forensics.case import EvidenceItem
    from forensics.media import MediaAccess

    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    kind = "video" if ext in {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"} else "image"
    item = EvidenceItem(id="file", path=p, relpath=os.path.basename(p), kind=kind, format=ext.lstrip("."),
                        size=os.path.getsize(p))
    return face_analysis(MediaAccess(item))


def evenly_spaced(observations: list[FaceObservation], k: int) -> list[FaceObservation]:
    """At most ``k`` observations, evenly spaced over the track (all of them when it is shorter)."""
    n = len(observations)
    if n <= k:
        return list(observations)
    idx = np.unique(np.round(np.linspace(0, n - 1, k)).astype(int))
    return [observations[i] for i in idx]
