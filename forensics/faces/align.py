"""Face alignment: similarity transform (Umeyama 1991) of five landmarks to a fixed template."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import numpy as np

from forensics.faces.base import (
    CROP_SIZE,
    DEFAULT_MARGIN,
    LEFT_EYE,
    RIGHT_EYE,
    TEMPLATE_5,
)

if TYPE_CHECKING:  # pragma: no cover
    pass

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
