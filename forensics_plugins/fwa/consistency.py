"""Hand-crafted inner-vs-outer consistency features of one face crop (the premise of Li & Lyu's FWA and of SBI).

A swapped face is synthesised at a limited resolution and blended into the frame, so inside the face it can
differ from the surrounding frame in sharpness, noise level and colour. These features describe that
difference, per face crop, from its 68 landmarks; nothing is learnt here.

Regions come from the **signed distance to the landmarks' convex hull** in units of the face size
(:func:`.sbi.face_size`): :data:`BINS` bands from the deep interior (< -0.24) through the hull boundary (0) to a
band 0.15 outside it. Per band, on the luma (Y of YCbCr, 0-255) and the chroma:

* ``lap``: log mean |Laplacian| (sharpness);
* ``hp``: log noise level: RMS of a 3x3 high-pass (diagonal-detail) residual over the flatter half of the band's
  pixels (gradient at most the band's median), as noise estimators restrict themselves to flat patches;
* ``srm``: log mean |residual| of the SRM "KV" 5x5 predictor (Fridrich & Kodovsky 2012);
* ``grad``: log mean Sobel gradient magnitude;
* ``hfr``: log ratio of the finest detail (Y - blur 1) to the next octave (blur 1 - blur 2): a sharpness
  measure that does not depend on contrast;
* ``y``, ``cb``, ``cr``: mean; ``ystd``: log standard deviation of Y.

Features (:data:`FEATURE_NAMES`): each statistic's value in every band minus its value in the outer bands
(``d<k>_<stat>``), and the same for the forehead band only (above the brows, outside the hull; ``top_<stat>``
= deep interior minus forehead), and a boundary-edge contrast: gradient magnitude on the hull contour
(+-0.03) minus the mean of the bands just inside and just outside it. A band with too few pixels (the crop's
edge) reads as the outer reference (difference 0); ``valid_outer`` says how much of the outer band exists.

Cost: about 2 ms per 128 px crop on one idle CPU thread, 4-5 ms on the shared 2-core machine under load
(``python benchmarks/cross_source.py --sections cost --threads 1`` prints it). Measured in
:mod:`.consistency_ablation`; not part of the shipped model (its cross-source figures did not justify it).
"""

from __future__ import annotations

import numpy as np

from .sbi import face_size, hull_mask

FEATURE_VERSION = "cons/1"
# signed distance to the hull / face size: negative inside. Last two bands are "outer" (the reference).
BINS = (-10.0, -0.24, -0.16, -0.10, -0.05, 0.0, 0.05, 0.10, 0.15)
OUTER_BANDS = (6, 7)  # band k spans BINS[k]..BINS[k+1]: 0.05-0.10 and 0.10-0.15 outside the hull
STATS = ("lap", "hp", "srm", "grad", "hfr", "y", "cb", "cr", "ystd")
MIN_PIXELS = 12
_KV = np.array([[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2], [2, -6, 8, -6, 2],
                [-1, 2, -2, 2, -1]], dtype=np.float32) / 12.0
_HP = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32) / 4.0


def _names() -> tuple[str, ...]:
    n_bands = len(BINS) - 1
    names = [f"d{k}_{s}" for k in range(n_bands) if k not in OUTER_BANDS for s in STATS]
    names += [f"top_{s}" for s in STATS]
    names += ["edge_grad", "valid_outer"]
    return tuple(names)


FEATURE_NAMES = _names()
N_FEATURES = len(FEATURE_NAMES)


def signed_distance(shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """Signed distance (pixels) of every pixel to the landmarks' convex hull: negative inside, positive outside."""
    import cv2

    hull = hull_mask(shape, landmarks)
    inside = cv2.distanceTransform(hull, cv2.DIST_L2, 3)
    outside = cv2.distanceTransform((1 - hull).astype(np.uint8), cv2.DIST_L2, 3)
    return np.where(hull > 0, -inside, outside).astype(np.float32)


def _maps(rgb: np.ndarray) -> dict[str, np.ndarray]:
    import cv2

    ycc = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YCrCb).astype(np.float32)
    y, cr, cb = ycc[..., 0], ycc[..., 1], ycc[..., 2]
    b1 = cv2.GaussianBlur(y, (0, 0), 1.0, borderType=cv2.BORDER_REFLECT)
    b2 = cv2.GaussianBlur(y, (0, 0), 2.0, borderType=cv2.BORDER_REFLECT)
    gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3)
    return {
        "lap": np.abs(cv2.Laplacian(y, cv2.CV_32F, ksize=3)),
        "hp": np.abs(cv2.filter2D(y, cv2.CV_32F, _HP, borderType=cv2.BORDER_REFLECT)),
        "srm": np.abs(cv2.filter2D(y, cv2.CV_32F, _KV, borderType=cv2.BORDER_REFLECT)),
        "grad": np.sqrt(gx * gx + gy * gy),
        "fine": (y - b1) ** 2,
        "oct": (b1 - b2) ** 2,
        "y": y,
        "cb": cb,
        "cr": cr,
    }


def _stats(maps: dict[str, np.ndarray], sel: np.ndarray) -> np.ndarray | None:
    if int(sel.sum()) < MIN_PIXELS:
        return None
    eps = 1e-3
    y = maps["y"][sel]
    return np.array([
        np.log(maps["lap"][sel].mean() + eps),
        _noise(maps["hp"][sel], maps["grad"][sel]),
        np.log(maps["srm"][sel].mean() + eps),
        np.log(maps["grad"][sel].mean() + eps),
        0.5 * (np.log(maps["fine"][sel].mean() + eps) - np.log(maps["oct"][sel].mean() + eps)),
        y.mean() / 16.0,
        maps["cb"][sel].mean() / 16.0,
        maps["cr"][sel].mean() / 16.0,
        np.log(y.std() + 1.0),
    ], dtype=np.float64)


def _noise(residual: np.ndarray, grad: np.ndarray) -> float:
    """Log RMS of the high-pass residual over the flatter half of the pixels (gradient at most its median):
    a noise-level estimate that texture and edges do not dominate."""
    flat = residual[grad <= np.median(grad)]
    return float(np.log(np.sqrt(np.mean(flat * flat)) + 0.1)) if flat.size else 0.0


def features(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(:data:`N_FEATURES`,) float32 inner-vs-outer consistency features of one face (uint8 RGB + its 68
    landmarks in the same pixel coordinates); see the module docstring."""
    rgb = np.asarray(rgb)
    lm = np.asarray(landmarks, dtype=np.float64)
    h, w = rgb.shape[:2]
    size = face_size(lm)
    d = signed_distance((h, w), lm) / size
    maps = _maps(rgb)
    n_bands = len(BINS) - 1
    band = np.digitize(d, BINS[1:-1])  # 0..n_bands-1 for d < BINS[-1]
    band[d >= BINS[-1]] = n_bands  # beyond the last band: unused
    per = [_stats(maps, band == k) for k in range(n_bands)]
    outer_sel = np.isin(band, OUTER_BANDS)
    outer = _stats(maps, outer_sel)
    fallback = next((p for p in (per[5], per[4], per[3]) if p is not None), np.zeros(len(STATS)))
    if outer is None:
        outer = fallback
    out = []
    for k in range(n_bands):
        if k in OUTER_BANDS:
            continue
        out.append((per[k] - outer) if per[k] is not None else np.zeros(len(STATS)))
    brow_y = lm[17:27, 1].min()
    top = _stats(maps, (d > 0.0) & (d < BINS[-1]) & (np.arange(h)[:, None] < brow_y))
    core = per[0] if per[0] is not None else fallback
    out.append(core - top if top is not None else np.zeros(len(STATS)))
    on_edge = np.abs(d) < 0.03
    g_edge = _stats(maps, on_edge)
    g_in, g_out = per[3], per[6] if per[6] is not None else outer
    gi = STATS.index("grad")
    edge = (g_edge[gi] - 0.5 * (g_in[gi] + g_out[gi])) if g_edge is not None and g_in is not None else 0.0
    full = float(np.count_nonzero((d > 0.05) & (d < BINS[-1])))
    # share of the outer band inside the crop, relative to a full ring (hull perimeter x 0.1 face sizes)
    import cv2

    hull = cv2.convexHull(np.round(lm).astype(np.int32))
    ring = max(1.0, cv2.arcLength(hull, True) * 0.10 * size)
    vec = np.concatenate(out + [np.array([edge, min(1.0, full / ring)])])
    return vec.astype(np.float32)


def batch_features(images: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(N, :data:`N_FEATURES`) for (N, H, W, 3) uint8 images and their (N, 68, 2) landmarks."""
    if len(images) == 0:
        return np.zeros((0, N_FEATURES), np.float32)
    return np.stack([features(im, lm) for im, lm in zip(images, landmarks)])


def roi_landmarks(landmarks: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """Landmarks of an aligned crop in the coordinates of :func:`.warp.cut_roi` ``(crop, box, size)``."""
    x0, y0, x1, y1 = box
    lm = np.asarray(landmarks, dtype=np.float64)
    sx, sy = size / (x1 - x0), size / (y1 - y0)
    return np.stack([(lm[:, 0] - x0 + 0.5) * sx - 0.5, (lm[:, 1] - y0 + 0.5) * sy - 0.5], axis=1).astype(np.float32)
