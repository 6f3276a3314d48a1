"""Noise-inconsistency analysis: a local noise-level map and a residual co-occurrence map, each with a score.

* **Wavelet MAD** (Mahdian & Saic, "Using noise inconsistencies for blind image forensics", Image and Vision
  Computing 27(10), 2009): the finest diagonal Haar sub-band HH1 of the luma, per block, gives the noise standard
  deviation ``σ = median(|HH1|) / 0.6745`` (Donoho & Johnstone 1994). A region pasted from another photo (another
  camera, ISO, compression or resampling) tends to carry another noise level.
* **Residual co-occurrence** (after Splicebuster, Cozzolino, Poggi & Verdoliva, IEEE WIFS 2015): a third-order
  high-pass residual, quantised and truncated to {-1, 0, 1}, 4-pixel horizontal and vertical co-occurrence
  histograms per block (2 × 81 bins, square-rooted), PCA to 8 dimensions, and a two-class Gaussian mixture fitted by
  EM; the minority class's posterior is the map.

For each feature the inconsistency score is how much better two Gaussian classes explain the blocks than one:
the drop in BIC per block (0 when one class is as good). Plain functions over NumPy arrays; deterministic.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> img = np.clip(128 + rng.normal(0, 2, (256, 256)), 0, 255)
>>> img[64:192, 64:192] += rng.normal(0, 8, (128, 128))
>>> r = analyse_noise(np.clip(img, 0, 255).astype(np.uint8))
>>> r.sigma[4, 4] > r.sigma[0, 0]
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_SIDE = 2048  # larger images are reduced by area averaging first (cost bound; it lowers all noise alike)
MAD_TO_SIGMA = 0.6745


@dataclass
class NoiseResult:
    sigma: np.ndarray  # per block noise std (NaN where the block is saturated or flat-clipped)
    block: int  # block side in working pixels (wavelet map)
    posterior: np.ndarray  # per co-occurrence block: P(minority class)
    cooc_block: int
    scale: float  # working / original
    wavelet_score: float
    cooc_score: float
    blocks_used: int

    def score(self, feature: str) -> float:
        return self.wavelet_score if feature == "wavelet" else self.cooc_score


def to_gray(rgb: np.ndarray) -> np.ndarray:
    a = np.asarray(rgb)
    if a.ndim == 2:
        return a.astype(np.float32)
    a = a[..., :3].astype(np.float32)
    return a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114


def haar_hh1(gray: np.ndarray) -> np.ndarray:
    """The diagonal detail sub-band of a one-level orthonormal Haar transform (half size)."""
    g = gray[: gray.shape[0] // 2 * 2, : gray.shape[1] // 2 * 2]
    a, b, c, d = g[0::2, 0::2], g[0::2, 1::2], g[1::2, 0::2], g[1::2, 1::2]
    return (a - b - c + d) / 2.0


def _blocks(a: np.ndarray, n: int) -> np.ndarray:
    """``a`` cut into non-overlapping ``n×n`` blocks: (rows, cols, n*n)."""
    h, w = a.shape[0] // n, a.shape[1] // n
    return a[: h * n, : w * n].reshape(h, n, w, n).transpose(0, 2, 1, 3).reshape(h, w, n * n)


def wavelet_sigma(gray: np.ndarray, block: int) -> np.ndarray:
    """Per-block noise σ from the median absolute HH1 coefficient; NaN for saturated / clipped blocks."""
    hh = _blocks(np.abs(haar_hh1(gray)), block // 2)
    sigma = np.median(hh, axis=-1) / MAD_TO_SIGMA
    pix = _blocks(gray, block)[: sigma.shape[0], : sigma.shape[1]]
    clipped = ((pix <= 2) | (pix >= 253)).mean(-1) > 0.2
    sigma = sigma.astype(np.float64)
    sigma[clipped] = np.nan
    return sigma


def cooc_features(gray: np.ndarray, block: int, q: float = 2.0) -> np.ndarray:
    """Per-block square-rooted co-occurrence histograms of the quantised 3rd-order residual: (rows, cols, 162)."""
    g = gray.astype(np.float32)
    feats = []
    for axis in (1, 0):
        x = g if axis == 1 else g.T
        r = -x[:, :-3] + 3 * x[:, 1:-2] - 3 * x[:, 2:-1] + x[:, 3:]
        t = np.clip(np.round(r / q), -1, 1).astype(np.int64) + 1  # {0, 1, 2}
        code = t[:, :-3] * 27 + t[:, 1:-2] * 9 + t[:, 2:-1] * 3 + t[:, 3:]  # 81 symbols
        code = code if axis == 1 else code.T
        H, W = gray.shape
        full = np.zeros((H, W), np.int64)
        full[: code.shape[0], : code.shape[1]] = code
        hb, wb = H // block, W // block
        by = (np.arange(hb * block) // block)[:, None]
        bx = (np.arange(wb * block) // block)[None, :]
        bid = (by * wb + bx).ravel()
        c = full[: hb * block, : wb * block].ravel()
        hist = np.bincount(bid * 81 + c, minlength=hb * wb * 81).reshape(hb, wb, 81).astype(np.float64)
        feats.append(np.sqrt(hist / np.maximum(hist.sum(-1, keepdims=True), 1)))
    return np.concatenate(feats, axis=-1)


def two_class_gain(X: np.ndarray, seed: int = 0) -> tuple[float, np.ndarray]:
    """BIC(1 Gaussian) − BIC(2 Gaussians), per sample (≥ 0 when two classes explain the data better), and the
    posterior of the smaller class for every row. EM via scikit-learn's GaussianMixture, fixed seed."""
    from sklearn.mixture import GaussianMixture

    n = len(X)
    if n < 12:
        return 0.0, np.zeros(n)
    g1 = GaussianMixture(1, covariance_type="full", reg_covar=1e-4, random_state=seed).fit(X)
    g2 = GaussianMixture(2, covariance_type="full", reg_covar=1e-4, random_state=seed, n_init=2).fit(X)
    gain = (g1.bic(X) - g2.bic(X)) / n
    post = g2.predict_proba(X)
    minority = int(np.argmin(g2.weights_))
    return float(max(gain, 0.0)), post[:, minority]


def analyse_noise(rgb: np.ndarray, max_side: int = MAX_SIDE) -> NoiseResult:
    """Both maps and both scores for an RGB / grey uint8 image."""
    import cv2

    a = np.asarray(rgb)
    h, w = a.shape[:2]
    s = min(1.0, max_side / max(h, w))
    if s < 1.0:  # reduce the uint8 image first (bounded memory), then take the luma
        a = cv2.resize(np.ascontiguousarray(a), (max(1, round(w * s)), max(1, round(h * s))),
                       interpolation=cv2.INTER_AREA)
        s = a.shape[1] / w
    gray = to_gray(a)
    short = min(gray.shape)
    block = int(np.clip(2 * (short // 24), 16, 64))
    sigma = wavelet_sigma(gray, block)
    ok = np.isfinite(sigma) & (sigma > 0.05)
    ls = np.log(sigma[ok] + 0.1)[:, None]
    w_gain, _ = two_class_gain(ls) if ok.sum() >= 12 else (0.0, None)
    cblock = int(np.clip(short // 8, 32, 64))
    F = cooc_features(gray, cblock)
    X = F.reshape(-1, F.shape[-1])
    pix = _blocks(gray, cblock)[: F.shape[0], : F.shape[1]].reshape(len(X), -1)
    good = ((pix <= 2) | (pix >= 253)).mean(-1) <= 0.2
    post_full = np.zeros(len(X))
    c_gain = 0.0
    if good.sum() >= 12:
        Xg = X[good] - X[good].mean(0)
        _, _, vt = np.linalg.svd(Xg, full_matrices=False)
        Z = Xg @ vt[: min(8, len(vt))].T
        c_gain, post = two_class_gain(Z)
        post_full[good] = post
    return NoiseResult(sigma=sigma, block=block, posterior=post_full.reshape(F.shape[:2]), cooc_block=cblock,
                       scale=s, wavelet_score=w_gain, cooc_score=c_gain, blocks_used=int(ok.sum()))


__all__ = ["NoiseResult", "analyse_noise", "cooc_features", "haar_hh1", "two_class_gain", "wavelet_sigma", "MAX_SIDE"]
