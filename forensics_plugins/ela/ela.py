"""Error-level analysis (ELA) as plain functions over NumPy arrays.

Method: N. Krawetz, "A Picture's Worth: Digital Image Analysis and Forensics",
Black Hat Briefings 2007. A JPEG is re-saved at a known quality; the absolute
difference to the original shows how much error each region still "has left".
Regions saved the same number of times at the same quality tend to similar error
levels for similar content; a pasted region with a different compression history
often stands out.

ELA is a *visual aid*: error levels also depend on texture, edges and colour, so
a bright region is not proof of editing (FotoForensics and Forensically both say
so). The score below therefore normalises error by local texture and measures how
*inconsistent* the block error levels are, and a calibrator learned on generated
splices turns it into a probability with a measured error rate.

Example
-------
>>> import numpy as np
>>> rgb = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
>>> ela_map(rgb, quality=90).shape
(64, 64)
"""

from __future__ import annotations

import io

import numpy as np

BLOCK = 8  # JPEG block grid
FEATURES = (
    "ratio_robust_max_z",
    "ratio_outlier_fraction",
    "outlier_largest_component_share",
    "outlier_largest_component_area",
    "log_mean_ratio",
    "ghost_q75_robust_max_z",
    "ratio_tail_mass",
    "smoothed_ratio_robust_max_z",
)


def jpeg_roundtrip(rgb: np.ndarray, quality: int, subsampling: int = 2) -> np.ndarray:
    """Encode ``rgb`` (HxWx3 uint8) as baseline JPEG at ``quality`` and decode it again."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=int(quality), subsampling=subsampling, optimize=False)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def ela_map(rgb: np.ndarray, quality: int = 90, subsampling: int = 2) -> np.ndarray:
    """Per-pixel error level: mean over RGB of ``|rgb - resave(rgb, quality)|`` (float32, 0..255).

    ``subsampling`` (PIL's 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0) should match the original file's
    chroma subsampling, or the re-save error is dominated by chroma resampling.
    """
    resaved = jpeg_roundtrip(rgb, quality, subsampling)
    return np.abs(rgb.astype(np.int16) - resaved.astype(np.int16)).mean(axis=2).astype(np.float32)


def block_means(values: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """Mean of ``values`` over non-overlapping ``block``×``block`` tiles (edges cropped)."""
    h, w = (values.shape[0] // block) * block, (values.shape[1] // block) * block
    v = values[:h, :w]
    return v.reshape(h // block, block, w // block, block).mean(axis=(1, 3))


def texture_map(rgb: np.ndarray) -> np.ndarray:
    """Local high-frequency energy: absolute Laplacian of the luminance (float32)."""
    from scipy import ndimage

    y = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.abs(ndimage.laplace(y)).astype(np.float32)


def _robust_z(x: np.ndarray) -> np.ndarray:
    med = np.median(x)
    mad = max(float(np.median(np.abs(x - med))) * 1.4826, 0.05)  # floor: flat images have MAD ~ 0
    return (x - med) / mad


def block_ratio(ela: np.ndarray, texture: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """Block error level divided by block texture: error that texture does not explain."""
    return block_means(ela, block) / (block_means(texture, block) + 2.0)


def features(rgb: np.ndarray, quality: int = 90, subsampling: int = 2) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """ELA features (in :data:`FEATURES` order) and the intermediate maps.

    Returns
    -------
    feats : ndarray of shape (len(FEATURES),)
    maps : dict with ``ela`` (pixel error), ``ratio`` (block error/texture), ``z`` (block robust z-scores)
    """
    from scipy import ndimage

    ela = ela_map(rgb, quality, subsampling)
    tex = texture_map(rgb)
    ratio = block_ratio(ela, tex)
    z = _robust_z(np.log(ratio + 1e-3))
    out = z > 3.0
    labels, n = ndimage.label(out)
    largest = np.bincount(labels.ravel())[1:].max() if n else 0
    ghost = ela_map(rgb, 75, subsampling)
    zg = _robust_z(np.log(block_ratio(ghost, tex) + 1e-3))
    feats = np.array([
        np.percentile(z, 99.5),
        out.mean(),
        largest / max(out.sum(), 1),
        largest / out.size,
        np.log(ratio.mean() + 1e-3),
        np.percentile(zg, 99.5),
        np.clip(z, 0, 10).mean(),
        np.percentile(_robust_z(ndimage.uniform_filter(np.log(ratio + 1e-3), 4, mode="reflect")), 99.5),
    ], dtype=np.float64)
    return feats, {"ela": ela, "ratio": ratio, "z": z}


def heatmap(values: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """Map a 2-D array to an RGB uint8 heat image (black → red → yellow → white)."""
    v = values.astype(np.float32)
    vmax = float(np.percentile(v, 99.5)) if vmax is None else vmax
    t = np.clip(v / (vmax + 1e-6), 0, 1)
    r = np.clip(3 * t, 0, 1)
    g = np.clip(3 * t - 1, 0, 1)
    bl = np.clip(3 * t - 2, 0, 1)
    return (np.stack([r, g, bl], axis=-1) * 255).astype(np.uint8)


class Calibrator:
    """Logistic regression over standardised ELA features, stored as plain JSON."""

    def __init__(self, mean, scale, coef, intercept, lo=None, hi=None) -> None:
        n = len(coef)
        self.lo = np.full(n, -np.inf) if lo is None else np.asarray(lo, dtype=np.float64)
        self.hi = np.full(n, np.inf) if hi is None else np.asarray(hi, dtype=np.float64)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = float(intercept)

    def decision(self, feats: np.ndarray) -> float:
        """Log-odds of manipulation. Features are clipped to the range seen in training."""
        x = np.clip(feats, self.lo, self.hi)
        return float(((x - self.mean) / self.scale) @ self.coef + self.intercept)

    def probability(self, feats: np.ndarray) -> float:
        return float(1 / (1 + np.exp(-self.decision(feats))))

    @classmethod
    def from_json(cls, data: dict) -> "Calibrator":
        if list(data["features"]) != list(FEATURES):
            raise ValueError("calibrator was fitted on a different feature set")
        return cls(data["mean"], data["scale"], data["coef"], data["intercept"], data.get("lo"), data.get("hi"))

    def to_json(self) -> dict:
        return {"features": list(FEATURES), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept, "lo": self.lo.tolist(), "hi": self.hi.tolist()}
