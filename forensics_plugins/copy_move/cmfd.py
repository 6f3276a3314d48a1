"""Copy-move forgery detection: SIFT keypoints (g2NN, clustering, RANSAC) plus a dense Zernike-moment field.

Two published, training-free methods whose masks are merged:

* **Keypoints** (Amerini et al., "A SIFT-based forensic method for copy-move attack detection and transformation
  recovery", IEEE TIFS 6(3), 2011): SIFT descriptors matched against the same image with the generalised 2-nearest-
  neighbour test (g2NN), matched points grouped by agglomerative (Ward) clustering, an affine transform estimated by
  RANSAC for every pair of clusters. Each accepted transform is then localised by warping the image with it and
  keeping the seeded, connected pixels whose neighbourhood agrees with its warped copy (after Pan & Lyu, IEEE TIFS
  2010).
* **Dense field** (Cozzolino, Poggi & Verdoliva, "Efficient dense-field copy-move forgery detection", IEEE TIFS
  10(11), 2015): rotation-invariant Zernike-moment magnitudes of a disc around every pixel, nearest neighbour at least
  ``min_offset`` away, offset field verified by dense linear fitting (a local affine fit of the offsets: a copied
  region has a smooth offset field, chance matches do not), matched pairs checked from both ends. Finds copies of
  low-texture regions where few keypoints exist; our nearest-neighbour search is an exact k-d tree instead of the
  paper's PatchMatch.

Cost is bounded: keypoints work on the image scaled to at most ``KEYPOINT_MAX_SIDE`` pixels on its long side, the dense
field at most ``DENSE_MAX_SIDE``. Plain functions over NumPy arrays; deterministic.

Example
-------
>>> import numpy as np, skimage.data
>>> from forensics.api import make_copy_move
>>> forged, truth, _ = make_copy_move(skimage.data.astronaut(), np.random.default_rng(1))
>>> r = detect_copy_move(forged)
>>> bool(r.mask.any())
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

KEYPOINT_MAX_SIDE = 1024
DENSE_MAX_SIDE = 384
G2NN_RATIO = 0.65  # Amerini et al. use 0.5; 0.65 found more small copies with no more false alarms (10 hosts)
KNN = 10
MIN_KEYPOINT_DISTANCE = 12  # px at keypoint resolution: matches closer than this are the same structure
MIN_INLIERS = 6
RANSAC_THRESHOLD = 3.0
ZERNIKE_RADIUS = 7
MIN_OFFSET = 16  # px at dense resolution (Cozzolino et al. use a minimum offset to skip trivial self-matches)
FIT_RESIDUAL = 0.5  # mean squared residual (px^2) of the local linear fit of the offset field
MIN_AREA_SHARE = 0.0015  # a detected region must cover at least this share of the image (each side)
MAX_PAIRS = 16  # cluster pairs tried with RANSAC, largest first
MAX_TRANSFORMS = 6
DENSE_RATIO = 0.2  # a dense match must be this much closer than the pixel's own neighbourhood (a copy, not texture)


@dataclass
class Transform:
    """One accepted copy: an affine map (2x3, working pixels) from source to target and its keypoint inliers."""

    affine: np.ndarray
    src: np.ndarray  # N x 2 (x, y) inlier points, working resolution
    dst: np.ndarray
    method: str = "keypoints"

    def describe(self, scale: float) -> dict[str, Any]:
        A = self.affine[:, :2]
        s = float(np.sqrt(abs(np.linalg.det(A))))
        angle = float(np.degrees(np.arctan2(A[1, 0], A[0, 0])))
        t = self.affine[:, 2] / scale
        return {"method": self.method, "inliers": int(len(self.src)), "scale": round(s, 3),
                "rotation_deg": round(angle, 1), "translation_px": [round(float(t[0]), 1), round(float(t[1]), 1)]}


@dataclass
class CopyMoveResult:
    mask: np.ndarray  # bool, working resolution (keypoint scale)
    scale: float  # working / original
    transforms: list[Transform] = field(default_factory=list)
    matches: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # all g2NN matches (x1, y1, x2, y2)
    dense_mask: np.ndarray | None = None
    keypoint_mask: np.ndarray | None = None
    keypoints: int = 0
    dense_pairs: int = 0

    @property
    def share(self) -> float:
        """Share of the image marked as copied (source + target)."""
        return float(self.mask.mean()) if self.mask.size else 0.0

    @property
    def score(self) -> float:
        """The raw detection score: ``log10`` of the share of the image marked (floor 1e-4)."""
        return float(np.log10(max(self.share, 1e-4)))

    def mask_at(self, shape: tuple[int, int]) -> np.ndarray:
        """The mask resized (nearest) to ``shape`` = (height, width) of the original image."""
        import cv2

        if self.mask.shape == tuple(shape):
            return self.mask
        return cv2.resize(self.mask.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0


# ----------------------------------------------------------------------------------------------- helpers
def to_gray(rgb: np.ndarray) -> np.ndarray:
    """Luma (BT.601) as float32 in [0, 255] from an HxW or HxWx3/4 uint8 array."""
    a = np.asarray(rgb)
    if a.ndim == 2:
        return a.astype(np.float32)
    a = a[..., :3].astype(np.float32)
    return a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114


def resize_max(gray: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    import cv2

    h, w = gray.shape
    s = min(1.0, max_side / max(h, w))
    if s >= 1.0:
        return gray, 1.0
    out = cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return out, out.shape[1] / w


def _remove_small(mask: np.ndarray, min_px: int) -> np.ndarray:
    import cv2

    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, dtype=bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_px
    return keep[lab]


# ----------------------------------------------------------------------------------------------- keypoints
def sift_matches(gray8: np.ndarray, max_features: int = 6000) -> tuple[np.ndarray, np.ndarray, int]:
    """g2NN self-matches of SIFT keypoints: ``(P, Q, n_keypoints)`` with ``P``, ``Q`` = N x 2 (x, y)."""
    import cv2

    cv2.setRNGSeed(0)
    sift = cv2.SIFT_create(nfeatures=max_features, contrastThreshold=0.02)
    kps, desc = sift.detectAndCompute(gray8, None)
    n = len(kps)
    if desc is None or n < 3:
        return np.zeros((0, 2)), np.zeros((0, 2)), n
    pts = np.array([k.pt for k in kps], dtype=np.float64)
    desc = desc.astype(np.float32)
    desc = np.sqrt(desc / (np.abs(desc).sum(1, keepdims=True) + 1e-7))  # RootSIFT (Arandjelovic & Zisserman 2012)
    k = min(KNN + 1, n)
    from scipy.spatial import cKDTree

    dist, idx = cKDTree(desc).query(desc, k=k)
    pairs = set()
    for i in range(n):
        other = idx[i] != i  # the point itself (not always column 0: an exact copy ties with it at distance 0)
        d, j = dist[i][other][: k - 1], idx[i][other][: k - 1]
        for m in range(len(d) - 1):
            ratio = d[m] / d[m + 1] if d[m + 1] > 0 else 0.0  # two exact copies: both distances are 0
            if ratio > G2NN_RATIO:
                break
            jm = int(j[m])
            if np.hypot(*(pts[i] - pts[jm])) >= MIN_KEYPOINT_DISTANCE:
                pairs.add((min(i, jm), max(i, jm)))
    if not pairs:
        return np.zeros((0, 2)), np.zeros((0, 2)), n
    ij = np.array(sorted(pairs))
    return pts[ij[:, 0]], pts[ij[:, 1]], n


def _plausible(A: np.ndarray, min_shift: float) -> bool:
    L = A[:, :2]
    det = np.linalg.det(L)
    if not 0.3 ** 2 <= abs(det) <= 3.0 ** 2:
        return False
    sv = np.linalg.svd(L, compute_uv=False)
    if sv[0] / max(sv[1], 1e-9) > 2.0:  # strongly anisotropic: not a copy, a chance alignment
        return False
    return True


def keypoint_transforms(P: np.ndarray, Q: np.ndarray, diag: float) -> list[Transform]:
    """Cluster matched points (Ward linkage) and fit a RANSAC affine per pair of clusters (Amerini et al. 2011)."""
    import cv2
    from scipy.cluster.hierarchy import fcluster, linkage

    if len(P) < MIN_INLIERS:
        return []
    pts = np.vstack([P, Q])
    n = len(P)
    if len(pts) > 4000:  # bound the O(n^2) linkage; keep the first (deterministic order)
        keep = np.arange(n)[:2000]
        P, Q, n = P[keep], Q[keep], len(keep)
        pts = np.vstack([P, Q])
    Z = linkage(pts, method="ward")
    lab = fcluster(Z, t=0.25 * diag, criterion="distance")
    a, b = lab[:n], lab[n:]
    out: list[Transform] = []
    used = np.zeros(n, dtype=bool)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keys, counts = np.unique(np.stack([lo, hi], 1), axis=0, return_counts=True)
    order = np.lexsort((keys[:, 1], keys[:, 0], -counts))  # most matches first (cost bound: MAX_PAIRS tried)
    for ca, cb in keys[order][:MAX_PAIRS]:
        if len(out) >= MAX_TRANSFORMS:
            break
        sel = ((a == ca) & (b == cb)) | ((a == cb) & (b == ca))
        sel &= ~used
        if sel.sum() < MIN_INLIERS:
            continue
        # orient every match from cluster ca to cluster cb (for ca == cb the stored order is kept)
        flip = (a == cb) & (b == ca) & (ca != cb)
        src = np.where(flip[:, None], Q, P)[sel]
        dst = np.where(flip[:, None], P, Q)[sel]
        A, inl = cv2.estimateAffine2D(src.astype(np.float32), dst.astype(np.float32), method=cv2.RANSAC,
                                      ransacReprojThreshold=RANSAC_THRESHOLD, maxIters=2000, confidence=0.995,
                                      refineIters=10)
        if A is None:
            continue
        inl = inl.ravel().astype(bool)
        if inl.sum() < MIN_INLIERS or not _plausible(A, MIN_KEYPOINT_DISTANCE):
            continue
        s_in, d_in = src[inl], dst[inl]
        # inliers must be spread out (a copy of a region, not one repeated corner)
        if np.ptp(s_in, axis=0).max() < 8 or np.ptp(d_in, axis=0).max() < 8:
            continue
        out.append(Transform(A.astype(np.float64), s_in, d_in))
        idx = np.flatnonzero(sel)
        used[idx[inl]] = True
    return out


def localise(gray: np.ndarray, t: Transform, diff_threshold: float = 7.0) -> np.ndarray | None:
    """Pixels of source and target explained by the transform: seeded regions near the inliers where the image and
    its warped copy agree. ``None`` when they agree on too little of the inliers' hull (a chance transform)."""
    import cv2

    H, W = gray.shape
    A = t.affine
    Ainv = cv2.invertAffineTransform(A)
    warped = cv2.warpAffine(gray, A, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=-1e4)
    valid = warped > -1e3
    diff = cv2.GaussianBlur(np.abs(gray - np.where(valid, warped, 0)), (0, 0), 2.0)
    mean = cv2.GaussianBlur(gray, (0, 0), 3.0)
    std = np.sqrt(np.maximum(cv2.GaussianBlur(gray * gray, (0, 0), 3.0) - mean * mean, 0))
    agree = valid & (diff < diff_threshold) & (std > 2.5)
    # a pixel and its source must be at least the minimum distance apart
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    sx = Ainv[0, 0] * xx + Ainv[0, 1] * yy + Ainv[0, 2]
    sy = Ainv[1, 0] * xx + Ainv[1, 1] * yy + Ainv[1, 2]
    agree &= np.hypot(sx - xx, sy - yy) >= MIN_KEYPOINT_DISTANCE
    hull = np.zeros((H, W), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(t.dst).astype(np.int32)), 1)
    hull_area = max(int(hull.sum()), 1)
    textured_hull = hull.astype(bool) & (std > 4.0)
    agreement = float(agree[textured_hull].mean()) if textured_hull.any() else 0.0
    if agreement < 0.25 and len(t.src) < 25:
        return None
    margin = int(max(32, np.sqrt(hull_area), 0.08 * np.hypot(H, W)))
    near = cv2.dilate(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))) > 0
    agree = cv2.morphologyEx((agree & near).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, lab = cv2.connectedComponents(agree, connectivity=8)
    seeds = np.round(t.dst).astype(int)
    seeds = seeds[(seeds[:, 0] >= 0) & (seeds[:, 0] < W) & (seeds[:, 1] >= 0) & (seeds[:, 1] < H)]
    hit = np.unique(lab[seeds[:, 1], seeds[:, 0]])
    hit = hit[hit > 0]
    target = np.isin(lab, hit)
    target = cv2.morphologyEx(target.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8)).astype(bool)
    if target.sum() < 0.5 * MIN_AREA_SHARE * H * W:  # agreement too sparse to outline: the inliers' hull
        target = hull.astype(bool)
    source = cv2.warpAffine(target.astype(np.uint8), Ainv, (W, H), flags=cv2.INTER_NEAREST).astype(bool)
    return target | source


# ----------------------------------------------------------------------------------------------- dense field
_ZERNIKE_ORDERS = [(n, m) for n in range(0, 6) for m in range(0, n + 1) if (n - m) % 2 == 0]


def _zernike_kernels(radius: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from math import factorial

    size = 2 * radius + 1
    yy, xx = (np.mgrid[0:size, 0:size] - radius) / (radius + 0.5)
    rho, theta = np.hypot(xx, yy), np.arctan2(yy, xx)
    inside = rho <= 1.0
    out = []
    for n, m in _ZERNIKE_ORDERS:
        R = np.zeros_like(rho)
        for s in range((n - m) // 2 + 1):
            c = (-1) ** s * factorial(n - s) / (factorial(s) * factorial((n + m) // 2 - s) * factorial((n - m) // 2 - s))
            R += c * rho ** (n - 2 * s)
        norm = (n + 1) / np.pi / inside.sum()
        out.append(((R * np.cos(m * theta) * inside * norm).astype(np.float32),
                    (-R * np.sin(m * theta) * inside * norm).astype(np.float32)))
    return out


def zernike_features(gray: np.ndarray, radius: int = ZERNIKE_RADIUS) -> np.ndarray:
    """Per-pixel magnitudes of the Zernike moments (order <= 5) of a disc of ``radius``: H x W x 12, rotation-invariant."""
    import cv2

    g = gray - cv2.blur(gray, (2 * radius + 1, 2 * radius + 1))  # the mean (order 0) carries no shape
    feats = [cv2.blur(gray, (2 * radius + 1, 2 * radius + 1)) / 16.0]
    for kr, ki in _zernike_kernels(radius)[1:]:
        re = cv2.filter2D(g, cv2.CV_32F, kr, borderType=cv2.BORDER_REFLECT)
        im = cv2.filter2D(g, cv2.CV_32F, ki, borderType=cv2.BORDER_REFLECT)
        feats.append(np.sqrt(re * re + im * im))
    return np.stack(feats, axis=-1)


def _linear_fit_residual(off: np.ndarray, valid: np.ndarray, win: int = 7) -> np.ndarray:
    """Mean squared residual of a local affine fit (per window) of an offset field (H x W x 2), vectorised."""
    import cv2

    H, W = valid.shape
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    v = valid.astype(np.float64)

    def box(a):
        return cv2.boxFilter(a, -1, (win, win), normalize=False, borderType=cv2.BORDER_CONSTANT)

    xc, yc = xx - xx.mean(), yy - yy.mean()
    basis = [v, xc * v, yc * v]  # v is 0/1, so basis[i] * basis[j] = v * phi_i * phi_j
    G = np.empty((H, W, 3, 3))
    for i in range(3):
        for j in range(i, 3):
            G[..., i, j] = G[..., j, i] = box(basis[i] * basis[j])
    G += np.eye(3) * 1e-6
    Ginv = np.linalg.inv(G)
    res = np.zeros((H, W))
    for c in range(2):
        d = off[..., c] * v
        b = np.stack([box(d), box(d * xc), box(d * yc)], axis=-1)
        beta = np.einsum("hwij,hwj->hwi", Ginv, b)
        res += box(d * d) - np.einsum("hwi,hwi->hw", beta, b)
    n = np.maximum(box(v), 1)
    return np.where(box(v) >= win * win * 0.6, res / n, np.inf)


def sorted_neighbours(X: np.ndarray, px: np.ndarray, py: np.ndarray, min_offset: float, projections: int = 3,
                      window: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Approximate nearest neighbour of every feature row at least ``min_offset`` pixels away.

    Lexicographic-sort matching (Fridrich et al. 2003) generalised to several sort keys: the rows are sorted along
    each of the first ``projections`` principal axes and every row is compared with the ``window`` rows after it in
    each order (both ends updated). Exact k-d trees degrade badly in 12 dimensions; this is O(n log n), deterministic.
    Returns (index of the best neighbour, whether one was found).
    """
    n = len(X)
    Xc = (X - X.mean(0)).astype(np.float32)
    _, _, vt = np.linalg.svd(Xc[:: max(1, n // 5000)], full_matrices=False)
    best_d = np.full(n, np.inf, dtype=np.float32)
    best_j = np.zeros(n, dtype=np.int64)
    for axis in vt[:projections]:
        order = np.argsort(Xc @ axis.astype(np.float32), kind="stable")
        Xs, xs, ys = Xc[order], px[order], py[order]  # contiguous slices below, no gathers
        for o in range(1, min(window, n - 1) + 1):
            diff = Xs[:-o] - Xs[o:]
            d = np.einsum("ij,ij->i", diff, diff)
            d[np.hypot(xs[:-o] - xs[o:], ys[:-o] - ys[o:]) < min_offset] = np.inf
            for u, v in ((order[:-o], order[o:]), (order[o:], order[:-o])):  # u holds each row at most once
                better = d < best_d[u]
                best_d[u[better]] = d[better]
                best_j[u[better]] = v[better]
    return best_j, np.isfinite(best_d)


def _propagate(F: np.ndarray, off: np.ndarray, dist: np.ndarray, valid: np.ndarray, iterations: int = 6) -> None:
    """PatchMatch-style propagation (Barnes et al. 2009, as used by Cozzolino et al. 2015), in place and vectorised:
    every pixel tries the offsets of its 8 neighbours and keeps one that matches better."""
    H, W, _ = F.shape
    yy, xx = np.mgrid[0:H, 0:W]
    for _ in range(iterations):
        changed = 0
        for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)):
            ny, nx = np.clip(yy + dy, 0, H - 1), np.clip(xx + dx, 0, W - 1)
            cand = off[ny, nx]
            ty, tx = yy + cand[..., 1], xx + cand[..., 0]
            ok = valid & valid[ny, nx] & (ty >= 0) & (ty < H) & (tx >= 0) & (tx < W)
            ok &= np.hypot(cand[..., 0], cand[..., 1]) >= MIN_OFFSET
            ty, tx = np.where(ok, ty, 0), np.where(ok, tx, 0)
            d = np.einsum("hwc,hwc->hw", F - F[ty, tx], F - F[ty, tx])
            better = ok & (d < dist)
            off[better] = cand[better]
            dist[better] = d[better]
            changed += int(better.sum())
        if changed == 0:
            break


def dense_field(gray: np.ndarray, max_side: int = DENSE_MAX_SIDE) -> tuple[np.ndarray, float, int]:
    """Dense copy-move mask (at ``gray``'s scale, upsampled from the dense grid) and the number of verified pixels."""
    import cv2

    H0, W0 = gray.shape
    g, s = resize_max(gray, max_side)
    H, W = g.shape
    r = ZERNIKE_RADIUS
    if min(H, W) < 6 * r:
        return np.zeros((H0, W0), bool), s, 0
    f = zernike_features(g)
    mean = cv2.blur(g, (2 * r + 1,) * 2)
    std = np.sqrt(np.maximum(cv2.blur(g * g, (2 * r + 1,) * 2) - mean * mean, 0))
    valid = std > 3.0  # flat, featureless discs match everything: Cozzolino et al. exclude them too
    valid[:r], valid[-r:], valid[:, :r], valid[:, -r:] = False, False, False, False
    F = (f / (f[valid].std(axis=0) + 1e-6) if valid.sum() > 50 else f).astype(np.float32)
    off = np.zeros((H, W, 2), dtype=np.int64)
    dist = np.full((H, W), np.inf, dtype=np.float32)
    ys, xs = np.nonzero(valid)
    if len(ys) > 50:
        nn, ok = sorted_neighbours(F[ys, xs].astype(np.float64), xs.astype(np.float64), ys.astype(np.float64),
                                   MIN_OFFSET)
        off[ys[ok], xs[ok], 0] = xs[nn[ok]] - xs[ok]
        off[ys[ok], xs[ok], 1] = ys[nn[ok]] - ys[ok]
        dd = F[ys, xs] - F[ys[nn], xs[nn]]
        dist[ys[ok], xs[ok]] = np.einsum("ij,ij->i", dd, dd)[ok]
        _propagate(F, off, dist, valid)
    # distinctiveness (a dense analogue of the 2NN ratio test): the match must be much closer than the features a
    # few pixels away; in random texture every match is about as far as the neighbourhood
    local = np.full((H, W), np.inf, dtype=np.float32)
    acc = np.zeros((H, W), dtype=np.float32)
    for dy, dx in ((0, 3), (3, 0), (0, -3), (-3, 0)):
        sh = np.roll(F, (dy, dx), axis=(0, 1))
        acc += np.einsum("hwc,hwc->hw", F - sh, F - sh)
    local = acc / 4
    has = valid & np.isfinite(dist) & (dist < DENSE_RATIO * local)
    res = _linear_fit_residual(off.astype(np.float64), has, win=9)
    coherent = has & (res < FIT_RESIDUAL)
    coherent = cv2.morphologyEx(coherent.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)
    min_px = max(32, int(MIN_AREA_SHARE * H * W))
    coherent = _remove_small(coherent, min_px)
    # both ends: a pixel stays only if the pixel it points to is also coherent and points back
    yy, xx = np.mgrid[0:H, 0:W]
    tx = np.clip(xx + off[..., 0], 0, W - 1)
    ty = np.clip(yy + off[..., 1], 0, H - 1)
    back = np.hypot(off[ty, tx, 0] + off[..., 0], off[ty, tx, 1] + off[..., 1]) <= 2.0
    pairs = _remove_small(coherent & coherent[ty, tx] & back, min_px)
    n_pairs = int(pairs.sum())
    grid = cv2.dilate(pairs.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (r + 1, r + 1)))
    grid = cv2.morphologyEx(grid, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    up = cv2.resize(grid, (W0, H0), interpolation=cv2.INTER_NEAREST).astype(bool)
    return up, s, n_pairs


# ----------------------------------------------------------------------------------------------- both
def detect_copy_move(rgb: np.ndarray, keypoint_max_side: int = KEYPOINT_MAX_SIDE,
                     dense_max_side: int = DENSE_MAX_SIDE, dense: bool = True) -> CopyMoveResult:
    """Run both methods on an RGB (or grey) uint8 image and merge their masks (at keypoint working resolution)."""
    import cv2

    a = np.asarray(rgb)
    h0, w0 = a.shape[:2]
    if max(h0, w0) > keypoint_max_side:  # reduce first (uint8, area averaging): bounded memory on large images
        f = keypoint_max_side / max(h0, w0)
        a = cv2.resize(np.ascontiguousarray(a), (max(1, round(w0 * f)), max(1, round(h0 * f))),
                       interpolation=cv2.INTER_AREA)
    gray = to_gray(a)
    scale = gray.shape[1] / w0
    H, W = gray.shape
    gray8 = np.clip(np.round(gray), 0, 255).astype(np.uint8)
    P, Q, nkp = sift_matches(gray8)
    transforms = keypoint_transforms(P, Q, float(np.hypot(H, W)))
    kmask = np.zeros((H, W), bool)
    kept = []
    for t in transforms:
        m = localise(gray, t)
        if m is not None:
            kmask |= m
            kept.append(t)
    transforms = kept
    dmask, _, n_pairs = dense_field(gray, dense_max_side) if dense else (np.zeros((H, W), bool), 1.0, 0)
    mask = _remove_small(kmask | dmask, max(16, int(MIN_AREA_SHARE * H * W)))
    matches = np.hstack([P, Q]) if len(P) else np.zeros((0, 4))
    return CopyMoveResult(mask=mask, scale=scale, transforms=transforms, matches=matches, dense_mask=dmask,
                          keypoint_mask=kmask, keypoints=nkp, dense_pairs=n_pairs)


def pixel_scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Pixel-level F1 and Matthews correlation of a predicted mask against the truth (both bool, same shape)."""
    p, t = pred.astype(bool).ravel(), truth.astype(bool).ravel()
    tp = float((p & t).sum())
    fp = float((p & ~t).sum())
    fn = float((~p & t).sum())
    tn = float((~p & ~t).sum())
    f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 1.0
    den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    mcc = (tp * tn - fp * fn) / den if den else 0.0
    return {"f1": f1, "mcc": float(mcc), "iou": tp / (tp + fp + fn) if (tp + fp + fn) else 1.0}


__all__ = ["CopyMoveResult", "Transform", "detect_copy_move", "dense_field", "keypoint_transforms", "localise",
           "pixel_scores", "sift_matches", "zernike_features", "to_gray", "resize_max",
           "KEYPOINT_MAX_SIDE", "DENSE_MAX_SIDE"]
