"""Face-warping artefacts, made on purpose: the self-supervised training data of FWA.

Method: Y. Li and S. Lyu, "Exposing DeepFake Videos By Detecting Face Warping
Artifacts", CVPR Workshops 2019. Face-swap pipelines synthesise a face at a
limited resolution, then warp it (affine) back into the target frame and blend
it in. That leaves a resolution / blur inconsistency between the face and its
surroundings. Li & Lyu need no deepfakes to train: they simulate the artefact on
authentic faces --

1. align the face and shrink it to a random lower resolution,
2. Gaussian-blur it,
3. warp it back with the inverse affine transform,
4. blend it into the original image with a (randomly shaped, feathered) face mask,

and train a CNN to tell these "negatives" from the untouched faces, with the same
other augmentations on both.

Everything here is a plain function over NumPy arrays (uint8 RGB images, float
landmarks in iBUG 68-point order); randomness comes from an explicit
``numpy.random.Generator``, so a seed reproduces a sample exactly.

Example
-------
>>> import numpy as np
>>> from forensics_plugins.fwa.warp import warp_negative
>>> rng = np.random.default_rng(0)
>>> img = (rng.random((224, 224, 3)) * 255).astype(np.uint8)
>>> lm = np.array([[112 + 60 * np.cos(a), 120 + 70 * np.sin(a)] for a in np.linspace(0, 6.28, 68)])
>>> lm[36:42], lm[42:48], lm[30], lm[48], lm[54] = (80, 100), (144, 100), (112, 130), (88, 160), (136, 160)
>>> neg, mask = warp_negative(img, lm, rng)
>>> bool((neg[mask == 0] == img[mask == 0]).all())
True
"""

from __future__ import annotations

import io
import math

import numpy as np

from forensics.api import align_face, invert_affine

# Shapes of the blending mask: convex hull of all 68 points, hull of the inner face
# (brows, eyes, nose, mouth, inner jaw), or an ellipse fitted to the hull.
MASK_KINDS = ("hull", "inner", "ellipse")


def face_size(landmarks: np.ndarray) -> float:
    """Geometric mean of the landmarks' bounding-box sides (pixels)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    w = lm[:, 0].max() - lm[:, 0].min()
    h = lm[:, 1].max() - lm[:, 1].min()
    return float(math.sqrt(max(w, 1.0) * max(h, 1.0)))


def face_mask(shape: tuple[int, int], landmarks: np.ndarray, rng: np.random.Generator | None = None,
              kind: str | None = None, brow_raise: float | None = None, grow: float | None = None,
              feather: float | None = None) -> np.ndarray:
    """Soft face mask (float32 in [0, 1], ``shape`` = (H, W)).

    With ``rng`` the shape is random, as in the paper: one of :data:`MASK_KINDS`,
    brows raised by 0-15 % of the face size (to take in some forehead), grown or
    shrunk by up to ±6 %, and feathered with a Gaussian of 1-6 %. Without ``rng``
    (and no explicit arguments): the full hull, brows raised 5 %, no growth, 3 %
    feather. Explicit arguments override the random choice.
    """
    import cv2

    lm = np.asarray(landmarks, dtype=np.float64).copy()
    size = face_size(lm)
    if kind is None:
        kind = MASK_KINDS[int(rng.integers(len(MASK_KINDS)))] if rng is not None else "hull"
    if brow_raise is None:
        brow_raise = float(rng.uniform(0.0, 0.15)) if rng is not None else 0.05
    if grow is None:
        grow = float(rng.uniform(-0.06, 0.06)) if rng is not None else 0.0
    if feather is None:
        feather = float(rng.uniform(0.01, 0.06)) if rng is not None else 0.03
    lm[17:27, 1] -= brow_raise * size
    if kind == "inner":
        pts = np.concatenate([lm[2:15], lm[17:68]])
    else:
        pts = lm
    hull = cv2.convexHull(np.round(pts).astype(np.int32))
    hard = np.zeros(shape, dtype=np.uint8)
    if kind == "ellipse" and len(hull) >= 5:
        ellipse = cv2.fitEllipse(hull.astype(np.float32))
        cv2.ellipse(hard, ellipse, 255, -1, lineType=cv2.LINE_8)
    else:
        cv2.fillConvexPoly(hard, hull, 255, lineType=cv2.LINE_8)
    k = int(round(abs(grow) * size))
    if k >= 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
        hard = cv2.dilate(hard, kernel) if grow > 0 else cv2.erode(hard, kernel)
    mask = hard.astype(np.float32) / 255.0
    sigma = feather * size
    if sigma >= 0.5:
        mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_CONSTANT)
        mask[mask < 1e-3] = 0.0  # a clean support: outside it the image is untouched
    return np.clip(mask, 0.0, 1.0)


def warp_negative(img: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator | None = None,
                  scale: float | None = None, blur_sigma: float | None = None, mask: np.ndarray | None = None,
                  colour_shift: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Simulate a face-swap's warping artefact on an authentic face (Li & Lyu 2019, Sec. 3).

    Parameters
    ----------
    img : (H, W, 3) uint8 RGB
    landmarks : (68, 2) landmarks of the face in ``img``
    rng : random generator for the choices below (``None``: fixed middle values)
    scale : size of the low-resolution face chip relative to the face (default random 0.3-0.9)
    blur_sigma : Gaussian blur of the chip in chip pixels (default random 0-1.5)
    mask : (H, W) float mask in [0, 1] (default :func:`face_mask` with ``rng``)
    colour_shift : (3,) additive per-channel shift of the warped face (default: with 30 %
        probability a small random shift, else none) -- imperfect colour matching

    Returns
    -------
    negative : (H, W, 3) uint8 -- identical to ``img`` wherever ``mask == 0``
    mask : (H, W) float32 mask used
    """
    import cv2

    h, w = img.shape[:2]
    size = face_size(landmarks)
    if scale is None:
        scale = float(rng.uniform(0.3, 0.9)) if rng is not None else 0.5
    if blur_sigma is None:
        blur_sigma = float(rng.uniform(0.0, 1.5)) if rng is not None else 0.7
    if mask is None:
        mask = face_mask((h, w), landmarks, rng)
    if colour_shift is None:
        colour_shift = (rng.normal(0.0, 4.0, size=3) if rng is not None and rng.random() < 0.3 else np.zeros(3))
    chip_side = max(8, int(round(size * scale * 1.7)))  # chip margin 0.35 -> the face is ~1/1.7 of the chip
    chip, matrix = align_face(img, landmarks, size=chip_side, margin=0.35)
    if blur_sigma >= 0.3:
        chip = cv2.GaussianBlur(chip, (0, 0), sigmaX=blur_sigma, sigmaY=blur_sigma)
    back = cv2.warpAffine(chip, invert_affine(matrix), (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    back = back.astype(np.float32) + np.asarray(colour_shift, dtype=np.float32)
    m = mask[..., None].astype(np.float32)
    out = m * back + (1.0 - m) * img.astype(np.float32)
    neg = np.clip(np.round(out), 0, 255).astype(np.uint8)
    neg[mask <= 0] = img[mask <= 0]  # exact, whatever the float rounding
    return neg, mask.astype(np.float32)


# ---------------------------------------------------------------------------- shared augmentations


def colour_jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random brightness (±20 %), contrast (±20 %) and saturation (±25 %)."""
    x = img.astype(np.float32)
    x = x * rng.uniform(0.8, 1.2)
    mean = x.mean()
    x = (x - mean) * rng.uniform(0.8, 1.2) + mean
    grey = x.mean(axis=2, keepdims=True)
    x = (x - grey) * rng.uniform(0.75, 1.25) + grey
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))


def rescale(img: np.ndarray, factor: float) -> np.ndarray:
    """Down- then up-scale the whole image (global resolution loss, as in compressed video)."""
    import cv2

    h, w = img.shape[:2]
    small = cv2.resize(img, (max(8, round(w * factor)), max(8, round(h * factor))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def roi_box(landmarks: np.ndarray, shape: tuple[int, int], rng: np.random.Generator | None = None
            ) -> tuple[int, int, int, int]:
    """The region of interest around the landmarks (x0, y0, x1, y1), as in the paper.

    The landmarks' bounding box grown by a margin: at random 5-20 % of the width on each
    side, 10-30 % of the height above (forehead) and 5-15 % below with ``rng``; the
    middle values (12.5 %, 20 %, 10 %) without. Clipped to the image.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    x0, y0 = lm.min(0)
    x1, y1 = lm.max(0)
    w, h = x1 - x0, y1 - y0
    if rng is None:
        mx0 = mx1 = 0.125
        mt, mb = 0.2, 0.1
    else:
        mx0, mx1 = rng.uniform(0.05, 0.2, size=2)
        mt, mb = rng.uniform(0.1, 0.3), rng.uniform(0.05, 0.15)
    H, W = shape
    bx0 = int(max(0, math.floor(x0 - mx0 * w)))
    by0 = int(max(0, math.floor(y0 - mt * h)))
    bx1 = int(min(W, math.ceil(x1 + mx1 * w)))
    by1 = int(min(H, math.ceil(y1 + mb * h)))
    return bx0, by0, max(bx1, bx0 + 2), max(by1, by0 + 2)


def cut_roi(img: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """Crop ``box`` and resize it to ``size`` x ``size`` (aspect not kept, as in the paper)."""
    import cv2

    x0, y0, x1, y1 = box
    return cv2.resize(img[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)
