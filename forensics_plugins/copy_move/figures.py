"""Report figures for the copy-move detector: match lines, mask overlay, binary mask (deterministic PNGs)."""

from __future__ import annotations

import io

import numpy as np

from .cmfd import CopyMoveResult

FIGURE_MAX_SIDE = 768
COLOURS = [(0, 255, 0), (0, 200, 255), (255, 0, 255), (255, 128, 0), (0, 128, 255)]


def _png(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def _base(rgb: np.ndarray, res: CopyMoveResult) -> tuple[np.ndarray, float]:
    """The image at figure size and the factor from working (keypoint) coordinates to figure coordinates."""
    import cv2

    h, w = rgb.shape[:2]
    f = min(1.0, FIGURE_MAX_SIDE / max(h, w))
    img = rgb if f >= 1 else cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img[..., :3]).copy(), img.shape[1] / (w * res.scale)


def match_figure(rgb: np.ndarray, res: CopyMoveResult) -> bytes:
    """The image with every g2NN match (thin yellow) and each transform's inliers (thick, one colour each)."""
    import cv2

    img, k = _base(rgb, res)
    for x1, y1, x2, y2 in res.matches[:2000]:
        cv2.line(img, (int(x1 * k), int(y1 * k)), (int(x2 * k), int(y2 * k)), (255, 230, 0), 1, cv2.LINE_AA)
    for i, t in enumerate(res.transforms):
        c = COLOURS[i % len(COLOURS)]
        for (x1, y1), (x2, y2) in zip(t.src[:300], t.dst[:300]):
            p, q = (int(x1 * k), int(y1 * k)), (int(x2 * k), int(y2 * k))
            cv2.line(img, p, q, c, 2, cv2.LINE_AA)
            cv2.circle(img, p, 3, c, -1, cv2.LINE_AA)
            cv2.drawMarker(img, q, c, cv2.MARKER_TILTED_CROSS, 7, 2)
    return _png(img)


def overlay_figure(rgb: np.ndarray, res: CopyMoveResult) -> bytes:
    """The image with the copy-move mask tinted red and outlined."""
    import cv2

    img, _ = _base(rgb, res)
    m = cv2.resize(res.mask.astype(np.uint8), (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST)
    out = img.astype(np.float32)
    out[m > 0] = 0.55 * out[m > 0] + 0.45 * np.array([255, 0, 0], np.float32)
    out = np.clip(out, 0, 255).astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, contours, -1, (255, 0, 0), 2)
    return _png(out)


def mask_png(res: CopyMoveResult, shape: tuple[int, int]) -> bytes:
    """The binary mask (0 / 255) as a greyscale PNG: at the original image size up to 4 MP, else at working size."""
    m = res.mask_at(shape) if shape[0] * shape[1] <= 4_000_000 else res.mask
    return _png((m * 255).astype(np.uint8))
