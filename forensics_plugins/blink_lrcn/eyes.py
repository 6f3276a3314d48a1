"""Eye geometry from 68 iBUG landmarks: eye aspect ratio, eye crops, visibility.

Plain functions over NumPy arrays. Landmark order is dlib's 68-point / iBUG 300-W
order: points 36-41 are the subject's right eye (image left), 42-47 the left eye;
in each eye the six points run corner, upper lid, upper lid, corner, lower lid,
lower lid (p1..p6 in Soukupová & Čech's notation).
"""

from __future__ import annotations

import numpy as np

RIGHT_EYE = slice(36, 42)  # subject's right eye = image left
LEFT_EYE = slice(42, 48)
EYE_CROP_SIZE = 32  # side of the square grey eye crop fed to the network, pixels
EYE_CROP_SCALE = 0.75  # crop side = this × inter-ocular distance (eye centre to eye centre)

# Visibility gates (see :func:`eye_visibility`)
MIN_EYE_WIDTH_RATIO = 0.5  # narrower eye / wider eye below this: head turned towards profile
MIN_EYE_LUMA_RATIO = 0.45  # eye-region / cheek brightness below this, with flat texture: eyes covered
MAX_COVERED_EYE_CONTRAST = 0.06  # std of the eye region (0..1 grey) under which a dark eye region is "flat"
MIN_INTEROCULAR_PX = 12.0  # full-frame pixels between eye centres; below this the eyes are too small to judge


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """Eye aspect ratio of one eye (Soukupová & Čech 2016, eq. 1).

    ``EAR = (|p2 − p6| + |p3 − p5|) / (2 |p1 − p4|)``: about 0.25–0.35 for an open
    eye, falling towards 0 as the lids close.

    Parameters
    ----------
    eye : (6, 2) array
        The six landmarks of one eye, p1..p6 in iBUG order (corner, two upper-lid
        points, corner, two lower-lid points).

    Returns
    -------
    float
        The ratio; ``nan`` if the two corners coincide.

    Example
    -------
    >>> eye = np.array([[0, 0], [1, -1], [2, -1], [3, 0], [2, 1], [1, 1]], float)
    >>> round(eye_aspect_ratio(eye), 4)
    0.6667
    """
    p = np.asarray(eye, dtype=np.float64)
    horizontal = np.linalg.norm(p[0] - p[3])
    if horizontal <= 0:
        return float("nan")
    vertical = np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])
    return float(vertical / (2.0 * horizontal))


def ear_pair(landmarks: np.ndarray) -> tuple[float, float]:
    """EAR of the (subject's) right and left eye from 68 landmarks."""
    lm = np.asarray(landmarks, dtype=np.float64)
    return eye_aspect_ratio(lm[RIGHT_EYE]), eye_aspect_ratio(lm[LEFT_EYE])


def mean_ear(landmarks: np.ndarray) -> float:
    """Mean EAR of both eyes, the per-frame value Soukupová & Čech threshold."""
    r, l = ear_pair(landmarks)
    return float(np.nanmean([r, l])) if np.isfinite([r, l]).any() else float("nan")


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lm = np.asarray(landmarks, dtype=np.float64)
    return lm[RIGHT_EYE].mean(0), lm[LEFT_EYE].mean(0)


def eye_crop_matrices(landmarks: np.ndarray, size: int = EYE_CROP_SIZE,
                      scale: float = EYE_CROP_SCALE) -> list[np.ndarray]:
    """Affine matrices (2×3) that cut an upright ``size``² square around each eye.

    The square is centred on the mean of the eye's six landmarks, rotated so the
    line between the two eye centres is horizontal, with side ``scale`` × the
    inter-ocular distance (so the crop scales with the face, not with how open the
    eye is: a closed eye keeps the same framing). Order: image-left eye, image-right eye.
    """
    cr, cl = eye_centres(landmarks)
    d = cl - cr
    iod = float(np.hypot(*d))
    angle = float(np.arctan2(d[1], d[0]))
    side = max(scale * iod, 1e-3)
    s = size / side
    c, si = np.cos(-angle) * s, np.sin(-angle) * s
    mats = []
    for centre in (cr, cl):
        m = np.array([[c, -si, 0.0], [si, c, 0.0]])
        m[:, 2] = np.array([size / 2.0, size / 2.0]) - m[:, :2] @ centre
        mats.append(m)
    return mats


def eye_crops(image: np.ndarray, landmarks: np.ndarray, size: int = EYE_CROP_SIZE,
              scale: float = EYE_CROP_SCALE, colour: bool = False) -> np.ndarray:
    """Both eyes as upright grey crops, ``(2, size, size)`` uint8 (image-left eye first).

    ``image`` is RGB ``HxWx3`` or grey ``HxW`` uint8 and ``landmarks`` the 68 points in
    that image's coordinates (for the shared face pipeline: ``obs.crop`` with
    ``obs.crop_landmarks``). Pixels outside the image are filled by edge replication.
    With ``colour=True`` (training only: the channel-mixing augmentation needs the colour)
    an RGB image gives ``(2, size, size, 3)`` with exactly the same geometry.
    """
    import cv2

    img = np.ascontiguousarray(np.asarray(image))
    if colour and img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    src_full = img if colour else (cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img)
    out = np.empty((2, size, size, 3) if colour else (2, size, size), dtype=np.uint8)
    for k, m in enumerate(eye_crop_matrices(landmarks, size, scale)):
        # area-like downsampling: pre-blur when shrinking a lot, then bilinear warp
        shrink = 1.0 / max(np.sqrt(abs(np.linalg.det(m[:, :2]))), 1e-6)
        src = src_full
        if shrink > 1.5:
            sigma = 0.5 * (shrink - 1.0)
            src = cv2.GaussianBlur(src_full, (0, 0), sigma)
        out[k] = cv2.warpAffine(src, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


def normalise_crops(crops: np.ndarray) -> np.ndarray:
    """uint8 crops ``(..., H, W)`` → float32, each crop standardised to zero mean, unit variance.

    Per-crop standardisation removes skin tone and lighting level, leaving the
    eyelid/iris contrast the network should read.
    """
    x = np.asarray(crops, dtype=np.float32) / 255.0
    mean = x.mean(axis=(-2, -1), keepdims=True)
    std = x.std(axis=(-2, -1), keepdims=True)
    return (x - mean) / np.maximum(std, 0.02)


def eye_visibility(landmarks: np.ndarray, image: np.ndarray | None = None,
                   image_landmarks: np.ndarray | None = None) -> str | None:
    """Why the eyes of this face cannot be judged, or ``None`` if they can.

    Checks, in order:

    * **size**: eye centres less than :data:`MIN_INTEROCULAR_PX` apart in the
      frame (``landmarks`` are full-frame coordinates);
    * **pose**: one eye's corner-to-corner width under :data:`MIN_EYE_WIDTH_RATIO`
      of the other's, or the nose tip (point 30) outside the span between the eye
      centres -- the head is turned towards profile and one eye is hidden;
    * **cover** (needs ``image`` and the landmarks in its coordinates): the eye
      regions are much darker than the cheeks (< :data:`MIN_EYE_LUMA_RATIO`) *and*
      flat (grey std < :data:`MAX_COVERED_EYE_CONTRAST`): dark glasses.

    These are heuristics with stated thresholds, not a learned classifier.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    cr, cl = eye_centres(lm)
    iod = float(np.hypot(*(cl - cr)))
    if iod < MIN_INTEROCULAR_PX:
        return f"eyes too small to judge ({iod:.0f} px between eye centres; need ≥ {MIN_INTEROCULAR_PX:.0f})"
    wr = float(np.hypot(*(lm[39] - lm[36])))
    wl = float(np.hypot(*(lm[45] - lm[42])))
    if min(wr, wl) < MIN_EYE_WIDTH_RATIO * max(wr, wl):
        return "head turned towards profile (one eye foreshortened to under half the other's width)"
    # nose tip projected on the inter-ocular axis must fall between the two eye centres
    axis = (cl - cr) / iod
    t = float((lm[30] - cr) @ axis) / iod
    if not 0.0 <= t <= 1.0:
        return "head turned towards profile (nose tip outside the span between the eyes)"
    if image is not None and image_landmarks is not None:
        if covered_eyes(image, image_landmarks):
            return "eyes covered (dark, featureless eye regions: sunglasses?)"
    return None


def covered_eyes(image: np.ndarray, landmarks: np.ndarray) -> bool:
    """True when both eye regions are much darker than the cheeks and flat (dark glasses)."""
    import cv2

    img = np.asarray(image)
    grey = (cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img).astype(np.float32) / 255
    lm = np.asarray(landmarks, dtype=np.float64)
    cr, cl = eye_centres(lm)
    iod = float(np.hypot(*(cl - cr)))
    h, w = grey.shape

    def patch(c: np.ndarray, half: float) -> np.ndarray:
        x0, x1 = int(max(0, c[0] - half)), int(min(w, c[0] + half + 1))
        y0, y1 = int(max(0, c[1] - half * 0.6)), int(min(h, c[1] + half * 0.6 + 1))
        return grey[y0:y1, x0:x1]

    eyes = [patch(c, 0.22 * iod) for c in (cr, cl)]
    # cheeks: below each eye, between the eye and the nose-tip height
    cheeks = [patch(np.array([c[0], (c[1] + lm[30][1]) / 2 + 0.1 * iod]), 0.15 * iod) for c in (cr, cl)]
    if any(p.size == 0 for p in eyes + cheeks):
        return False
    cheek = float(np.median(np.concatenate([p.ravel() for p in cheeks])))
    if cheek < 0.08:  # the whole face is dark: no basis for comparison
        return False
    return all(float(p.mean()) < MIN_EYE_LUMA_RATIO * cheek and float(p.std()) < MAX_COVERED_EYE_CONTRAST for p in eyes)
