"""Self-Blended Images (SBI): training fakes made from one real face and a transformed copy of itself.

Method: K. Shiohara and T. Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR 2022.
Written from the paper's description (Sec. 3), not from its code or weights. A face swap pastes a
face that differs slightly from its surroundings -- in colour, in sharpness, in position -- and blends
it in with a soft mask. SBI reproduces exactly those generic artefacts without any second identity:

1. **Source-target generator.** Two copies of the same face. Either the source or the target (at
   random) gets a colour transform (per-channel RGB shift, hue / saturation / value shift,
   brightness / contrast) and a frequency transform (down-then-up sampling, or sharpening, or a
   slight blur). The source is then moved a little: random anisotropic rescale (0.95-1.05), a
   translation of up to 3 % of the face size, and with probability 0.3 a smooth elastic shift.
2. **Mask generator.** The convex hull of the 68 landmarks, deformed (a smooth random elastic
   field, kept inside the hull), eroded by a random amount, and blurred with a random Gaussian
   whose reach is kept inside the hull too, so the soft mask is zero outside the face hull. It is
   multiplied by a blend ratio drawn from {0.25, 0.5, 0.75, 1, 1, 1} (within [0.25, 1]).
3. **Blend.** ``fake = source * M + target * (1 - M)``: outside the mask the fake is the target.

Everything is a plain function over NumPy arrays (uint8 RGB, landmarks in iBUG 68-point order);
randomness comes from an explicit ``numpy.random.Generator``, so a seed reproduces a sample exactly.

Example
-------
>>> import numpy as np
>>> from forensics_plugins.fwa.sbi import self_blend
>>> rng = np.random.default_rng(0)
>>> img = (rng.random((160, 160, 3)) * 255).astype(np.uint8)
>>> t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
>>> lm = np.stack([80 + 50 * np.cos(t), 85 + 60 * np.sin(t)], axis=1)
>>> r = self_blend(img, lm, np.random.default_rng(1))
>>> bool((r.image[r.mask == 0] == r.target[r.mask == 0]).all())
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # the paper's choices of the blend ratio r


@dataclass
class SelfBlend:
    """One self-blended image and what made it."""

    image: np.ndarray  # (H, W, 3) uint8, the training fake
    mask: np.ndarray  # (H, W) float32 in [0, 1], already multiplied by ``ratio``
    source: np.ndarray  # (H, W, 3) uint8 after its transforms
    target: np.ndarray  # (H, W, 3) uint8 (the untouched face, or its transformed copy)
    ratio: float
    transformed: str  # "source" or "target": which copy got the colour / frequency transform


def face_size(landmarks: np.ndarray) -> float:
    """Geometric mean of the landmarks' bounding-box sides (pixels)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    w = lm[:, 0].max() - lm[:, 0].min()
    h = lm[:, 1].max() - lm[:, 1].min()
    return float(math.sqrt(max(w, 1.0) * max(h, 1.0)))


def hull_mask(shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """Hard (0/1 uint8) convex hull of the landmarks."""
    import cv2

    hull = cv2.convexHull(np.round(np.asarray(landmarks, dtype=np.float64)).astype(np.int32))
    m = np.zeros(shape, dtype=np.uint8)
    cv2.fillConvexPoly(m, hull, 1, lineType=cv2.LINE_8)
    return m


def _smooth_field(shape: tuple[int, int], amplitude: float, smooth: float, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random displacement field (dx, dy), max |d| about ``amplitude`` pixels."""
    import cv2

    h, w = shape
    out = []
    for _ in range(2):
        f = rng.standard_normal((h, w)).astype(np.float32)
        f = cv2.GaussianBlur(f, (0, 0), sigmaX=max(smooth, 0.5), borderType=cv2.BORDER_REFLECT)
        f *= amplitude / max(float(np.abs(f).max()), 1e-6)
        out.append(f)
    return out[0], out[1]


def _remap(img: np.ndarray, dx: np.ndarray, dy: np.ndarray, nearest: bool = False) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + dx, gy + dy, cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT)


def blend_mask(shape: tuple[int, int], landmarks: np.ndarray, rng: np.random.Generator | None = None,
               ratio: float | None = None) -> np.ndarray:
    """The SBI blending mask (float32, ``shape``): deformed, eroded, blurred hull times the blend ratio.

    The support is inside the landmarks' convex hull: the elastic deformation is intersected with the
    hull, and the hard mask is eroded by at least three blur sigmas before blurring (values below
    1e-3 are set to 0, so the tail never leaves the hull). Without ``rng``: no deformation, middle
    values (erosion 2 %, sigma 2.5 % of the face size) and ratio 1.
    """
    import cv2

    size = face_size(landmarks)
    hull = hull_mask(shape, landmarks)
    hard = hull.copy()
    if rng is not None and rng.random() < 0.75:  # smooth deformation of the mask outline
        dx, dy = _smooth_field(shape, amplitude=float(rng.uniform(0.02, 0.08)) * size,
                               smooth=0.12 * size, rng=rng)
        hard = _remap(hard, dx, dy, nearest=True) & hull
    sigma = (float(rng.uniform(0.01, 0.045)) if rng is not None else 0.025) * size
    extra = (float(rng.uniform(0.0, 0.06)) if rng is not None else 0.02) * size
    k = int(math.ceil(3.0 * sigma + extra))
    if k >= 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
        hard = cv2.erode(hard, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    mask = hard.astype(np.float32)
    if sigma >= 0.3:
        mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_CONSTANT)
    mask[mask < 1e-3] = 0.0
    mask *= hull.astype(np.float32)  # a no-op by construction; makes the guarantee explicit
    if ratio is None:
        ratio = float(BLEND_RATIOS[int(rng.integers(len(BLEND_RATIOS)))]) if rng is not None else 1.0
    return np.clip(mask * float(ratio), 0.0, 1.0).astype(np.float32)


def colour_frequency(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The source-target generator's appearance transform: colour shifts, then one frequency change."""
    import cv2

    x = img.astype(np.float32)
    if rng.random() < 0.5:  # per-channel RGB shift
        x += rng.uniform(-20, 20, size=3).astype(np.float32)
    if rng.random() < 0.5:  # hue / saturation / value shift
        hsv = cv2.cvtColor(np.clip(x, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-5, 5)) % 180.0  # OpenCV hue: 0-180
        hsv[..., 1] *= rng.uniform(0.8, 1.2)
        hsv[..., 2] *= rng.uniform(0.9, 1.1)
        x = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    if rng.random() < 0.5:  # brightness / contrast
        mean = x.mean()
        x = (x - mean) * rng.uniform(0.9, 1.1) + mean * rng.uniform(0.9, 1.1)
    x = np.clip(np.round(x), 0, 255).astype(np.uint8)
    h, w = x.shape[:2]
    kind = rng.random()
    if kind < 0.4:  # lower resolution (down then up)
        f = float(rng.uniform(0.35, 0.8))
        small = cv2.resize(x, (max(4, round(w * f)), max(4, round(h * f))), interpolation=cv2.INTER_AREA)
        x = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    elif kind < 0.7:  # sharpen (unsharp mask)
        blur = cv2.GaussianBlur(x, (0, 0), sigmaX=1.0).astype(np.float32)
        a = float(rng.uniform(0.3, 1.2))
        x = np.clip(np.round(x.astype(np.float32) * (1 + a) - a * blur), 0, 255).astype(np.uint8)
    elif kind < 0.85:  # slight blur
        x = cv2.GaussianBlur(x, (0, 0), sigmaX=float(rng.uniform(0.4, 1.0)))
    return x


def shift_source(img: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random anisotropic rescale (0.95-1.05) about the face centre, translation <= 3 % of the face,
    and with probability 0.3 a smooth elastic shift (<= 1.5 % of the face)."""
    import cv2

    h, w = img.shape[:2]
    size = face_size(landmarks)
    cx, cy = np.asarray(landmarks, dtype=np.float64).mean(axis=0)
    sx, sy = rng.uniform(0.95, 1.05, size=2)
    tx, ty = rng.uniform(-0.03, 0.03, size=2) * size
    m = np.array([[sx, 0.0, (1 - sx) * cx + tx], [0.0, sy, (1 - sy) * cy + ty]], dtype=np.float64)
    out = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if rng.random() < 0.3:
        dx, dy = _smooth_field((h, w), amplitude=float(rng.uniform(0.005, 0.015)) * size, smooth=0.1 * size, rng=rng)
        out = _remap(out, dx, dy)
    return out


def regenerate(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A decoder-like rendering of a face: edge-preserving smoothing (bilateral filter) removes sensor noise and
    fine skin texture while edges stay, then a mild unsharp mask (p 0.5) re-sharpens them, as an autoencoder or
    GAN face-swap output looks (clean skin, crisp features)."""
    import cv2

    x = cv2.bilateralFilter(np.ascontiguousarray(img), d=5, sigmaColor=float(rng.uniform(15, 45)),
                            sigmaSpace=float(rng.uniform(1.5, 4.0)))
    if rng.random() < 0.5:
        blur = cv2.GaussianBlur(x, (0, 0), sigmaX=1.0).astype(np.float32)
        a = float(rng.uniform(0.2, 0.8))
        x = np.clip(np.round(x.astype(np.float32) * (1 + a) - a * blur), 0, 255).astype(np.uint8)
    return x


def self_blend(img: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator,
               transform: str | None = None, regen: float = 0.0) -> SelfBlend:
    """One self-blended image from one face (see the module docstring).

    Parameters
    ----------
    img : (H, W, 3) uint8 RGB face (the aligned crop of the shared face pipeline)
    landmarks : (68, 2) its landmarks, same coordinates
    rng : random generator (a seed reproduces the sample)
    transform : ``"source"`` or ``"target"`` forces which copy gets the colour / frequency transform
        (default: either, with probability 0.5)
    regen : probability that the source is also :func:`regenerate`-d (a decoder-like rendering); 0 (the
        default) draws nothing more from ``rng``, so the original SBI samples are unchanged

    Returns
    -------
    :class:`SelfBlend`; ``image`` equals ``target`` wherever ``mask == 0``.
    """
    img = np.ascontiguousarray(img)
    if transform is None:
        transform = "source" if rng.random() < 0.5 else "target"
    if transform not in ("source", "target"):
        raise ValueError(f"transform must be 'source' or 'target', not {transform!r}")
    source, target = img.copy(), img.copy()
    if transform == "source":
        source = colour_frequency(source, rng)
    else:
        target = colour_frequency(target, rng)
    if regen > 0 and rng.random() < regen:
        source = regenerate(source, rng)
    source = shift_source(source, landmarks, rng)
    ratio = float(BLEND_RATIOS[int(rng.integers(len(BLEND_RATIOS)))])
    mask = blend_mask(img.shape[:2], landmarks, rng, ratio=ratio)
    m = mask[..., None]
    out = np.clip(np.round(source.astype(np.float32) * m + target.astype(np.float32) * (1.0 - m)), 0, 255)
    out = out.astype(np.uint8)
    out[mask <= 0] = target[mask <= 0]  # exact, whatever the float rounding
    return SelfBlend(image=out, mask=mask, source=source, target=target, ratio=ratio, transformed=transform)
