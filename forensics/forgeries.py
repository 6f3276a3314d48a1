"""Generated forgeries with known ground truth: splices and copy-moves (with their masks) made from authentic photos.

Used to train and measure detectors (ELA's calibration, the image-forgery suite), by the demo case and by
the tests. Plain functions over NumPy arrays; deterministic for a given ``numpy.random.Generator``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Iterable

import numpy as np

IMAGE_EXT = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"})


def list_images(dirs: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Every still image (by extension) below one folder or several, recursively, sorted."""
    if isinstance(dirs, (str, os.PathLike)):
        dirs = [dirs]
    out: list[Path] = []
    for d in dirs:
        for root, _dirs, files in os.walk(d):
            out += [Path(root) / f for f in files if os.path.splitext(f)[1].lower() in IMAGE_EXT]
    return sorted(out)


def builtin_photos(names: Iterable[str]) -> list[Path]:
    """Paths of the named public-domain sample photos that ship with scikit-image (those present)."""
    import skimage.data

    base = Path(skimage.data.__file__).parent
    return [base / n for n in names if (base / n).exists()]


def sample_hosts(dirs: Iterable[Path], max_per_dir: int, seed: int,
                 builtin: Iterable[str] = ()) -> list[tuple[str, Path]]:
    """``(source name, path)`` of authentic host photos: the named scikit-image photos, then up to ``max_per_dir``
    per folder (a seeded sample, kept in sorted order)."""
    out: list[tuple[str, Path]] = [("scikit-image", p) for p in builtin_photos(builtin)]
    for d in dirs:
        files = list_images(d)
        if len(files) > max_per_dir:
            pick = np.random.default_rng(seed).permutation(len(files))[:max_per_dir]
            files = sorted(files[i] for i in pick)
        out += [(Path(d).name, p) for p in files]
    return out


def load_rgb(path: str | os.PathLike, max_side: int = 640) -> np.ndarray:
    """An image file as ``HxWx3`` uint8 RGB, downsized (Lanczos) so its long side is at most ``max_side``."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        if max(im.size) > max_side:
            s = max_side / max(im.size)
            im = im.resize((round(im.size[0] * s), round(im.size[1] * s)), Image.LANCZOS)
        return np.asarray(im, dtype=np.uint8)


def jpeg_bytes(rgb: np.ndarray, quality: int) -> bytes:
    """Encode ``rgb`` as a baseline JPEG (Pillow / libjpeg, default 4:2:0) at ``quality``."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=int(quality))
    return buf.getvalue()


def decode_image(data: bytes) -> np.ndarray:
    """Decode image bytes to ``HxWx3`` uint8 RGB."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _mask(h: int, w: int, rng: np.random.Generator, feather: bool) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    if rng.random() < 0.5:
        m = ((yy - h / 2) / (h / 2)) ** 2 + ((xx - w / 2) / (w / 2)) ** 2 <= 1.0
    else:
        m = np.ones((h, w), dtype=bool)
    m = m.astype(np.float32)
    if feather:
        from scipy import ndimage

        m = ndimage.gaussian_filter(m, sigma=max(1.0, min(h, w) / 30))
    return m


def make_splice(host: np.ndarray, donor: np.ndarray, rng: np.random.Generator, q1: int, q2: int,
                resample: bool | None = None) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Paste a region of ``donor`` (after a JPEG round trip at ``q2``) into ``host``.

    Returns the composite (uint8, not yet saved) and the pasted box ``(y, x, h, w)``.
    """
    import cv2

    H, W = host.shape[:2]
    donor = decode_image(jpeg_bytes(donor, q2))
    area = rng.uniform(0.04, 0.25) * H * W
    aspect = rng.uniform(0.6, 1.6)
    h = int(np.clip(np.sqrt(area / aspect), 16, H - 2))
    w = int(np.clip(np.sqrt(area * aspect), 16, W - 2))
    resample = bool(rng.random() < 0.5) if resample is None else resample
    if resample:
        s = rng.uniform(0.6, 1.5)
        donor = cv2.resize(donor, (max(w + 2, round(donor.shape[1] * s)), max(h + 2, round(donor.shape[0] * s))),
                           interpolation=cv2.INTER_LINEAR)
    if donor.shape[0] <= h or donor.shape[1] <= w:
        donor = cv2.resize(donor, (max(w + 2, donor.shape[1]), max(h + 2, donor.shape[0])))
    dy, dx = rng.integers(0, donor.shape[0] - h), rng.integers(0, donor.shape[1] - w)
    y, x = rng.integers(0, H - h), rng.integers(0, W - w)
    patch = donor[dy:dy + h, dx:dx + w].astype(np.float32)
    m = _mask(h, w, rng, feather=bool(rng.random() < 0.5))[..., None]
    out = host.astype(np.float32).copy()
    out[y:y + h, x:x + w] = m * patch + (1 - m) * out[y:y + h, x:x + w]
    return np.clip(np.round(out), 0, 255).astype(np.uint8), (int(y), int(x), h, w)


def _region_mask(h: int, w: int, rng: np.random.Generator, shape: str | None) -> np.ndarray:
    """A binary ``h×w`` region: an axis-aligned box or an inscribed ellipse."""
    shape = shape or ("ellipse" if rng.random() < 0.5 else "box")
    if shape == "box":
        return np.ones((h, w), dtype=bool)
    yy, xx = np.mgrid[0:h, 0:w]
    return ((yy + 0.5 - h / 2) / (h / 2)) ** 2 + ((xx + 0.5 - w / 2) / (w / 2)) ** 2 <= 1.0


def make_copy_move(rgb: np.ndarray, rng: np.random.Generator, *, area: tuple[float, float] = (0.01, 0.05),
                   rotate: float | tuple[float, float] | None = None, scale: float | tuple[float, float] | None = None,
                   feather: bool | None = None, quality: int | None = None, shape: str | None = None,
                   max_tries: int = 60) -> tuple[np.ndarray, np.ndarray, dict]:
    """Copy a region of ``rgb`` and paste it elsewhere in the same image (a copy-move forgery).

    Parameters
    ----------
    rgb : HxWx3 uint8 image (the authentic host).
    rng : the random generator (the result is deterministic for its state).
    area : the copied region's share of the image, drawn uniformly from this range.
    rotate : rotation of the copy in degrees: a number, a ``(lo, hi)`` range, or ``None`` for none.
    scale : scale factor of the copy: a number, a ``(lo, hi)`` range, or ``None`` for 1.
    feather : blend the copy's border with a Gaussian-blurred alpha (``None``: a coin flip).
    quality : if given, the forgery is JPEG-compressed at this quality and decoded again.
    shape : ``"box"``, ``"ellipse"`` or ``None`` (a coin flip).

    Returns
    -------
    forged : HxWx3 uint8.
    mask : HxW bool, True on the source **and** the target region (the usual copy-move ground truth).
    info : the transform (``affine`` 2x3 mapping source to target pixels), angle, scale, boxes, settings.

    Raises ``ValueError`` when no target place that fits the image and does not overlap the source is found.

    Example
    -------
    >>> import skimage.data
    >>> forged, mask, info = make_copy_move(skimage.data.astronaut(), np.random.default_rng(0), rotate=10)
    >>> forged.shape == (512, 512, 3) and mask.any()
    True
    """
    import cv2

    def draw(v, default):
        if v is None:
            return default
        if isinstance(v, (tuple, list)):
            return float(rng.uniform(v[0], v[1]))
        return float(v)

    H, W = rgb.shape[:2]
    frac = float(rng.uniform(*area))
    aspect = float(rng.uniform(0.6, 1.6))
    h = int(np.clip(np.sqrt(frac * H * W / aspect), 8, H // 3))
    w = int(np.clip(np.sqrt(frac * H * W * aspect), 8, W // 3))
    region = _region_mask(h, w, rng, shape)
    angle, s = draw(rotate, 0.0), draw(scale, 1.0)
    feather = bool(rng.random() < 0.5) if feather is None else bool(feather)
    y0, x0 = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
    src = np.zeros((H, W), dtype=np.uint8)
    src[y0:y0 + h, x0:x0 + w] = region
    cy, cx = y0 + (h - 1) / 2, x0 + (w - 1) / 2
    half = 0.5 * s * np.hypot(h, w)  # the rotated, scaled region fits in this radius
    if 2 * half + 2 >= min(H, W):
        raise ValueError("the copied region does not fit in the image")
    keep_out = cv2.dilate(src, np.ones((5, 5), np.uint8)).astype(bool)
    for _ in range(max_tries):
        ty = float(rng.uniform(half + 1, H - half - 1))
        tx = float(rng.uniform(half + 1, W - half - 1))
        if angle == 0 and s == 1:  # a plain copy moves by whole pixels, as an editor's clone tool does
            tx, ty = cx + round(tx - cx), cy + round(ty - cy)
        A = cv2.getRotationMatrix2D((cx, cy), angle, s)
        A[0, 2] += tx - cx
        A[1, 2] += ty - cy
        tgt_alpha = cv2.warpAffine(src.astype(np.float32), A, (W, H), flags=cv2.INTER_LINEAR)
        tgt = tgt_alpha >= 0.5
        if tgt.sum() >= 0.5 * region.sum() * s * s and not (tgt & keep_out).any():
            break
    else:
        raise ValueError("no place for the copy that does not overlap its source")
    moved = cv2.warpAffine(rgb, A, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    alpha = tgt.astype(np.float32)
    if feather:
        from scipy import ndimage

        sigma = max(1.0, min(h, w) * s / 25)
        alpha = ndimage.gaussian_filter(alpha, sigma=sigma) * tgt  # soft edge inside the region only
    out = alpha[..., None] * moved.astype(np.float32) + (1 - alpha[..., None]) * rgb.astype(np.float32)
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    if quality is not None:
        out = decode_image(jpeg_bytes(out, int(quality)))
    mask = src.astype(bool) | tgt
    info = {"affine": [[round(float(v), 6) for v in row] for row in A], "angle": round(angle, 3),
            "scale": round(s, 4), "source_box": [y0, x0, h, w], "target_centre": [round(ty, 2), round(tx, 2)],
            "feather": feather, "quality": quality, "shape": "box" if region.all() else "ellipse",
            "area": round(float(mask.mean()), 5)}
    return out, mask, info


# libjpeg's standard quantisation tables (ITU-T T.81 Annex K), quality 50, natural (row-major) order.
STD_LUMA_QT = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99])
STD_CHROMA_QT = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32)


def scaled_quant_table(quality: int, base: np.ndarray = STD_LUMA_QT) -> np.ndarray:
    """libjpeg's ``jpeg_quality_scaling``: a standard table scaled to ``quality`` (1–100), baseline-clipped."""
    q = int(np.clip(quality, 1, 100))
    scale = 5000 // q if q < 50 else 200 - 2 * q
    return np.clip((base * scale + 50) // 100, 1, 255)


__all__ = ["IMAGE_EXT", "list_images", "builtin_photos", "sample_hosts", "load_rgb", "jpeg_bytes", "decode_image", "make_splice", "make_copy_move",
           "STD_LUMA_QT", "STD_CHROMA_QT", "scaled_quant_table"]
