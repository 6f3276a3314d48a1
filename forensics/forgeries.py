"""Generated forgeries with known ground truth: splices (and their masks) made from authentic photos.

Used to train and measure detectors (ELA's calibration, the image-forgery suite), by the demo case and by
the tests. Plain functions over NumPy arrays; deterministic for a given ``numpy.random.Generator``.
"""

from __future__ import annotations

import io
import os

import numpy as np


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


__all__ = ["load_rgb", "jpeg_bytes", "decode_image", "make_splice"]
