"""Splicebuster-style local residual features on sliding windows, with a two-class EM per image.

After Cozzolino, Poggi & Verdoliva, "Splicebuster: a new blind image splicing detector", IEEE WIFS 2015:

1. the luma's third-order linear high-pass residual, horizontal and vertical, quantised with step ``q`` and truncated
   to {-1, 0, 1} (``T = 1``), at several steps ``q`` (a coarse noise-level scale: how often the residual leaves 0);
2. co-occurrences of four consecutive quantised residuals along the residual's direction (81 symbols), counted per
   ``cell`` × ``cell`` pixel cell; a window is ``k × k`` cells, slid one cell at a time (stride < window), so its
   histogram is a box sum over the cell grid (integral image), square-rooted after normalisation;
3. PCA of the window features of this image and EM for a two-class model, both of the paper's variants: two
   Gaussians (``gmm``; suited to large forged areas) and a Gaussian host with a uniform foreign class (``gu``; small
   areas). The foreign (smaller / uniform) class's posterior, averaged over the windows covering a cell, is the map.

Image-level statistics of a map (which of them scores is measured on training hosts in ``train.py``): ``contrast`` =
area-weighted contrast of the largest connected region of the map above :data:`MARK` (its mean Mahalanobis distance
under the host class minus the image's median, in units of the distance's robust spread, times the square root of
its area share), ``region_share`` = that region's area share, ``outlier_share`` = the foreign class's weight;
``bic_gain`` = the BIC gain of two Gaussians over one.

Deterministic (fixed initialisation / seed). NumPy, and scikit-learn for the Gaussian mixtures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MARK = 0.8  # a cell is marked foreign above this mean posterior (windows straddling a border are partly foreign)
QS = (2.0, 4.0, 8.0)  # residual quantisation steps (grey levels); the 3rd-order residual of σ noise has std ≈ 4.5σ


@dataclass
class SBResult:
    posterior: np.ndarray  # per cell: P(window covering the cell is not of the host class), mean over windows
    distance: np.ndarray  # per cell: mean Mahalanobis distance (host class) of the windows covering the cell
    cell: int  # cell side in working pixels
    window: int  # window side in cells
    stats: dict = field(default_factory=dict)
    mask: np.ndarray | None = None  # per cell: the scored region (bool)


def residual_codes(gray: np.ndarray, q: float, axis: int) -> np.ndarray:
    """81-symbol codes of four consecutive quantised 3rd-order residuals along ``axis`` (1 = horizontal), aligned
    to the image (``-1`` where undefined)."""
    x = gray if axis == 1 else gray.T
    r = -x[:, :-3] + 3 * x[:, 1:-2] - 3 * x[:, 2:-1] + x[:, 3:]
    t = (np.clip(np.round(r / q), -1, 1) + 1).astype(np.int16)
    code = t[:, :-3] * 27 + t[:, 1:-2] * 9 + t[:, 2:-1] * 3 + t[:, 3:]
    out = np.full(x.shape, -1, np.int16)
    out[:, 1:1 + code.shape[1]] = code
    return out if axis == 1 else out.T


def cell_histograms(gray: np.ndarray, cell: int, qs=QS) -> np.ndarray:
    """Per-cell co-occurrence counts, (rows, cols, len(qs) * 2 * 81)."""
    H, W = gray.shape
    hb, wb = H // cell, W // cell
    bid = ((np.arange(hb * cell) // cell)[:, None] * wb + (np.arange(wb * cell) // cell)[None, :]).ravel()
    feats = []
    for q in qs:
        for axis in (1, 0):
            c = residual_codes(gray, q, axis)[: hb * cell, : wb * cell].ravel().astype(np.int64)
            ok = c >= 0
            feats.append(np.bincount(bid[ok] * 81 + c[ok], minlength=hb * wb * 81).reshape(hb, wb, 81))
    return np.concatenate(feats, axis=-1).astype(np.float64)


def box_sum(a: np.ndarray, k: int) -> np.ndarray:
    """Sum over every ``k × k`` window of the first two axes (valid windows only), via an integral image."""
    c = np.cumsum(np.cumsum(a, 0), 1)
    c = np.pad(c, ((1, 0), (1, 0)) + ((0, 0),) * (a.ndim - 2))
    return c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]


def window_features(hist: np.ndarray, k: int, nq: int) -> np.ndarray:
    """Square-rooted normalised window histograms (per q and direction), (rows-k+1, cols-k+1, D)."""
    s = box_sum(hist, k)
    parts = s.reshape(s.shape[:2] + (nq * 2, 81))
    parts = parts / np.maximum(parts.sum(-1, keepdims=True), 1)
    return np.sqrt(parts).reshape(s.shape[:2] + (-1,))


def gauss_uniform_em(Z: np.ndarray, iters: int = 40, pi0: float = 0.1) -> tuple[np.ndarray, np.ndarray, float]:
    """EM for (1-π)·N(μ, Σ) + π·U(bounding box). Returns the outlier posterior, the Mahalanobis distance of every
    row under the Gaussian, and π. Deterministic start: μ = median, Σ = covariance of all rows."""
    n, d = Z.shape
    span = np.maximum(Z.max(0) - Z.min(0), 1e-9)
    log_u = -np.log(span).sum()
    mu = np.median(Z, 0)
    cov = np.cov(Z.T) + 1e-6 * np.eye(d)
    pi = pi0
    post = np.zeros(n)
    for _ in range(iters):
        inv = np.linalg.inv(cov)
        diff = Z - mu
        m2 = np.einsum("ij,jk,ik->i", diff, inv, diff)
        _, logdet = np.linalg.slogdet(cov)
        log_g = -0.5 * (m2 + logdet + d * np.log(2 * np.pi))
        a, b = np.log(1 - pi) + log_g, np.log(pi) + log_u
        post = 1 / (1 + np.exp(np.clip(a - b, -50, 50)))
        g = 1 - post
        pi = float(np.clip(post.mean(), 1e-3, 0.5))
        w = g / max(g.sum(), 1e-9)
        mu = w @ Z
        diff = Z - mu
        cov = (diff * w[:, None]).T @ diff + 1e-6 * np.eye(d)
    inv = np.linalg.inv(cov)
    diff = Z - mu
    m2 = np.einsum("ij,jk,ik->i", diff, inv, diff)
    return post, np.sqrt(np.maximum(m2, 0)), pi


def bic_gain(Z: np.ndarray) -> float:
    """BIC(1 Gaussian) − BIC(2 Gaussians) per row (scikit-learn EM, fixed seed)."""
    from sklearn.mixture import GaussianMixture

    if len(Z) < 12:
        return 0.0
    b = [GaussianMixture(k, covariance_type="full", reg_covar=1e-4, random_state=0, n_init=1).fit(Z).bic(Z)
         for k in (1, 2)]
    return float(max(0.0, (b[0] - b[1]) / len(Z)))


def to_cells(win: np.ndarray, k: int) -> np.ndarray:
    """Mean over the windows that cover each cell: windows (r, c) -> cells (r+k-1, c+k-1)."""
    R, C = win.shape
    acc = box_sum(np.pad(win, ((k - 1, k - 1), (k - 1, k - 1))), k)
    cnt = box_sum(np.pad(np.ones_like(win), ((k - 1, k - 1), (k - 1, k - 1))), k)
    return acc / np.maximum(cnt, 1)


def largest_region(mask: np.ndarray) -> np.ndarray:
    import cv2

    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
    if n <= 1:
        return np.zeros_like(mask, bool)
    i = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return lab == i


def gmm2(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Two-Gaussian EM (scikit-learn, fixed seed): posterior of the smaller class, Mahalanobis distance of every row
    under the larger class, and the smaller class's weight."""
    from sklearn.mixture import GaussianMixture

    g = GaussianMixture(2, covariance_type="full", reg_covar=1e-4, random_state=0, n_init=1).fit(Z)
    big = int(np.argmax(g.weights_))
    post = g.predict_proba(Z)[:, 1 - big]
    diff = Z - g.means_[big]
    m2 = np.einsum("ij,jk,ik->i", diff, np.linalg.inv(g.covariances_[big]), diff)
    return post, np.sqrt(np.maximum(m2, 0)), float(g.weights_[1 - big])


def analyse(gray: np.ndarray, cell: int = 8, window_cells: int = 8, dims: int = 3, qs=QS,
            valid: np.ndarray | None = None, em: str = "gmm") -> SBResult | None:
    """The map (of the ``em`` model: ``gmm`` two Gaussians, ``gu`` Gaussian + uniform) and the image statistics of
    both models (the other's prefixed ``gmm_`` / ``gu_``) for a float luma image; ``None`` when too few windows."""
    hist = cell_histograms(gray, cell, qs)
    hb, wb = hist.shape[:2]
    k = int(min(window_cells, hb, wb))
    if k < 2 or (hb - k + 1) * (wb - k + 1) < 12:
        return None
    F = window_features(hist, k, len(qs))
    R, C = F.shape[:2]
    X = F.reshape(R * C, -1)
    if valid is not None:  # cells that are not saturated; a window is used when most of its cells are
        vw = box_sum(valid[:hb, :wb].astype(np.float64), k).ravel() / (k * k) >= 0.75
    else:
        vw = np.ones(R * C, bool)
    if vw.sum() < 12:
        return None
    Xg = X[vw]
    mean = Xg.mean(0)
    _, sv, vt = np.linalg.svd(Xg - mean, full_matrices=False)
    d = int(min(dims, len(vt), max(1, vw.sum() // 10)))
    Z = (X - mean) @ vt[:d].T
    Zv = Z[vw]
    R2 = np.zeros(R * C)

    def cell_maps(post, dist):
        P, D = np.zeros(R * C), R2.copy()
        P[vw], D[vw] = post, dist
        return to_cells(P.reshape(R, C), k), to_cells(D.reshape(R, C), k)

    runs = {"gmm": gmm2(Zv), "gu": gauss_uniform_em(Zv)}
    stats: dict = {}
    maps = {}
    for name, (post, dist, pi) in runs.items():
        Pc, Dc = cell_maps(post, dist)
        st = image_stats(Pc, Dc, dist, pi, d)
        maps[name] = (Pc, Dc, st.pop("_mask"))
        stats.update(st if name == em else {f"{name}_{key}": v for key, v in st.items() if key != "dims"})
    stats["bic_gain"] = bic_gain(Zv)
    Pc, Dc, mask = maps[em]
    return SBResult(posterior=Pc, distance=Dc, cell=cell, window=k, stats=stats, mask=mask)


def image_stats(Pc: np.ndarray, Dc: np.ndarray, dist: np.ndarray, pi: float, d: int) -> dict:
    """Image-level statistics of the cell maps (see the module docstring)."""
    med = float(np.median(dist))
    spread = float(np.median(np.abs(dist - med))) * 1.4826 + 1e-9
    mask = largest_region(Pc > MARK)
    if not mask.any():  # no cell is more likely foreign than host: take the top-distance region instead
        mask = largest_region(Dc >= np.quantile(Dc, 0.9))
    share = float(mask.mean())
    contrast = (float(Dc[mask].mean()) - med) / spread if mask.any() else 0.0
    top = np.sort(Dc.ravel())[::-1][: max(1, Dc.size // 10)]
    return {
        "contrast": contrast * np.sqrt(share),
        "contrast_raw": contrast,
        "region_share": share,
        "outlier_share": pi,
        "top10_distance": (float(top.mean()) - med) / spread,
        "dist_ratio": float(np.quantile(dist, 0.95) / max(np.quantile(dist, 0.5), 1e-9)),
        "dims": d,
        "_mask": mask,
    }
