"""Report figures for the noise detector: the image beside each block map (deterministic matplotlib PNGs)."""

from __future__ import annotations

import numpy as np

from forensics.api import figure, figure_artifact

from .noise import NoiseResult
from .splicebuster import MARK


def _side_by_side(rgb: np.ndarray, block_map: np.ndarray, title: str, label: str, vmin: float, vmax: float,
                  cmap: str) -> bytes:
    import cv2
    import matplotlib

    h, w = rgb.shape[:2]
    if max(h, w) > 768:  # the figure needs no more; imshow of a 100 MP array would be slow
        f = 768 / max(h, w)
        rgb = cv2.resize(np.ascontiguousarray(rgb), (max(1, round(w * f)), max(1, round(h * f))),
                         interpolation=cv2.INTER_AREA)
    fig = figure(9.0, 4.2 * h / max(w, 1) + 0.8)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.imshow(rgb[..., :3] if rgb.ndim == 3 else rgb, cmap=None if rgb.ndim == 3 else "gray")
    ax1.set_title("image", fontsize=9)
    cm = matplotlib.colormaps[cmap].with_extremes(bad="#9e9e9e")
    im = ax2.imshow(np.ma.masked_invalid(block_map), cmap=cm, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax2.set_title(title, fontsize=9)
    for a in (ax1, ax2):
        a.set_xticks([])
        a.set_yticks([])
    fig.colorbar(im, ax=ax2, fraction=0.046, pad=0.04, label=label)
    return figure_artifact(fig, title).png


def sigma_figure(rgb: np.ndarray, res: NoiseResult) -> bytes:
    s = res.sigma
    finite = s[np.isfinite(s)]
    vmax = float(np.percentile(finite, 98)) if finite.size else 1.0
    return _side_by_side(rgb, s, "noise σ per block (HH1 MAD)", "σ (grey levels)", 0.0, max(vmax, 0.5), "magma")


def posterior_figure(rgb: np.ndarray, res: NoiseResult) -> bytes:
    return _side_by_side(rgb, res.posterior, "P(foreign residual class)", "probability", 0.0, 1.0, "viridis")


def mask_png(rgb: np.ndarray, res: NoiseResult, draw: bool = True) -> bytes:
    """Cells with P(foreign class) > MARK as a binary PNG at the image size (at working size above 4 MP); all black
    when ``draw`` is False (no region stands out)."""
    import io

    import cv2
    from PIL import Image

    h, w = rgb.shape[:2]
    if h * w > 4_000_000:
        h, w = round(h * res.scale), round(w * res.scale)
    cb = res.cooc_block / res.scale  # block side in original pixels
    grid = (res.posterior > MARK).astype(np.uint8) * (255 if draw else 0)
    full = np.zeros((h, w), np.uint8)
    up = cv2.resize(grid, (max(1, round(grid.shape[1] * cb * h / rgb.shape[0])),
                           max(1, round(grid.shape[0] * cb * h / rgb.shape[0]))), interpolation=cv2.INTER_NEAREST)
    full[: min(h, up.shape[0]), : min(w, up.shape[1])] = up[:h, :w]
    buf = io.BytesIO()
    Image.fromarray(full).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()
