"""Noise-inconsistency analysis: a local noise-level map and a residual co-occurrence map, each with a score.

* **Wavelet MAD** (Mahdian & Saic, "Using noise inconsistencies for blind image forensics", Image and Vision
  Computing 27(10), 2009): the finest diagonal Haar sub-band HH1 of the luma, per block, gives the noise standard
  deviation ``σ = median(|HH1|) / 0.6745`` (Donoho & Johnstone 1994). A region pasted from another photo (another
  camera, ISO, compression or resampling) tends to carry another noise level.
* **Residual co-occurrence** (Splicebuster, Cozzolino, Poggi & Verdoliva, IEEE WIFS 2015; :mod:`.splicebuster`):
  third-order high-pass residuals, horizontal and vertical, quantised at steps 2, 4 and 8 and truncated to
  {-1, 0, 1}; 4-pixel co-occurrence histograms (6 × 81 bins, square-rooted) per sliding window (8 × 8 cells, stride one
  cell, so stride < window), PCA to 3 dimensions and a two-class EM (two Gaussians for the map; the Gaussian +
  uniform variant's statistics too); the smaller class's posterior, averaged over the windows covering each cell,
  is the map.

Image-level statistics: for the wavelet map, the BIC gain of two Gaussian noise classes over one (per block); for
the co-occurrence map, the EM's foreign-class weight (``outlier_share``), the area share of the largest connected
region of the map above 0.5 (``region_share``), its area-weighted Mahalanobis contrast (``contrast``) and the BIC gain
of two Gaussians over one (``bic_gain``), and the Gaussian + uniform variant's (``gu_*``). Which one scores is chosen on training hosts (``train.py``). Deterministic.

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

from dataclasses import dataclass, field

import numpy as np

from .splicebuster import MARK
from .splicebuster import analyse as cooc_analyse

MAX_SIDE = 2048  # larger images are reduced by area averaging first (cost bound; it lowers all noise alike)
MAD_TO_SIGMA = 0.6745


@dataclass
class NoiseResult:
    sigma: np.ndarray  # per block noise std (NaN where the block is saturated or flat-clipped)
    block: int  # block side in working pixels (wavelet map)
    posterior: np.ndarray  # per co-occurrence cell: P(foreign residual class), mean over the covering windows
    cooc_block: int  # co-occurrence cell side in working pixels
    scale: float  # working / original
    wavelet_score: float
    cooc_score: float  # the co-occurrence BIC gain (kept for the report)
    blocks_used: int
    stats: dict = field(default_factory=dict)  # co-occurrence image statistics (see the module docstring)
    window_cells: int = 0

    def score(self, feature: str) -> float:
        if feature == "wavelet":
            return self.wavelet_score
        if feature == "cooc":
            return self.cooc_score
        return float(self.stats.get(feature, 0.0))


GAIN_FEATURES = ("wavelet", "cooc", "bic_gain")  # BIC gains: the calibrator reads log(1 + 100 · gain)


def calibrator_input(feature: str, s):
    """The calibrator's input for a raw image statistic: log-compressed BIC gains, the others as they are."""
    s = np.asarray(s, dtype=np.float64)
    return np.log1p(100 * np.maximum(s, 0)) if feature in GAIN_FEATURES else s


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
    cell = int(np.clip(short // 40, 8, 32))  # at most ~40-64 cells along the short side (bounded memory)
    hc, wc = gray.shape[0] // cell, gray.shape[1] // cell
    pix = _blocks(gray, cell)[:hc, :wc]
    valid = ((pix <= 2) | (pix >= 253)).mean(-1) <= 0.2
    sb = cooc_analyse(gray, cell=cell, window_cells=8, dims=3, qs=(2.0, 4.0, 8.0), valid=valid)
    if sb is None:
        post, stats, k = np.zeros((hc, wc)), {}, 0
    else:
        post, stats, k = sb.posterior, dict(sb.stats), sb.window
    return NoiseResult(sigma=sigma, block=block, posterior=post, cooc_block=cell, scale=s, wavelet_score=w_gain,
                       cooc_score=float(stats.get("bic_gain", 0.0)), blocks_used=int(ok.sum()), stats=stats,
                       window_cells=k)


def marked_mask(res: NoiseResult, shape: tuple[int, int], mark: float) -> np.ndarray:
    """The cells whose foreign-class probability exceeds ``mark``, as a boolean mask of the original image ``shape``."""
    import cv2

    h, w = shape
    cb = res.cooc_block / res.scale  # cell side in original pixels
    grid = (res.posterior > mark).astype(np.uint8)
    out = np.zeros((h, w), bool)
    if grid.size:
        gh, gw = min(h, round(grid.shape[0] * cb)), min(w, round(grid.shape[1] * cb))
        out[:gh, :gw] = cv2.resize(grid, (max(1, gw), max(1, gh)), interpolation=cv2.INTER_NEAREST) > 0
    return out


GATE_STATS = ("bic_gain", "contrast", "contrast_raw", "top10_distance", "dist_ratio", "outlier_share")
"""Candidate region statistics for the mark gate: statistics of the drawn (two-Gaussian) map only, so the gate speaks
about the mask it draws (the trainer keeps the one whose gated masks localise best on training hosts)."""


def wilson_interval(k: int, n: int) -> tuple[float, float]:
    """Wilson 95 % interval of the proportion k / n (scipy's ``binomtest``); (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    from scipy.stats import binomtest

    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class MarkGate:
    """The region mask is drawn only when ``statistic`` exceeds ``threshold``: a value set on the authentic images of
    the training hosts so that at most ``target_fmr`` of them get a marked region (``rule`` ``"upper95"``: the
    Wilson 95 % upper bound of the measured rate is at most the target; ``"point"``: the measured rate itself);
    ``fmr`` of ``n_authentic`` is the rate measured there."""

    statistic: str
    threshold: float
    target_fmr: float
    fmr: float
    n_authentic: int
    rule: str = "upper95"
    heldout_fmr: float | None = None  # the rate measured on held-out authentic images (not used to set it)
    heldout_n: int = 0

    def rate_text(self) -> str:
        """The measured false-mark rate(s), for captions and summaries."""
        held = (f"false-mark rate {self.heldout_fmr:.3f} on {self.heldout_n} held-out authentic images; "
                if self.heldout_fmr is not None else "")
        return (f"{held}threshold set on {self.n_authentic} authentic training images at a false-mark rate ≤ "
                f"{self.target_fmr:.2f}{' (95 % upper bound)' if self.rule == 'upper95' else ''}, measured there "
                f"{self.fmr:.3f}")

    def value(self, res: NoiseResult) -> float:
        return res.score(self.statistic)

    def marks(self, res: NoiseResult) -> bool:
        """True when a region stands out: the statistic exceeds the threshold and some cell exceeds the mark."""
        return bool(self.value(res) > self.threshold and res.posterior.size and (res.posterior > MARK).any())

    def to_json(self) -> dict:
        return {"statistic": self.statistic, "threshold": self.threshold, "target_fmr": self.target_fmr,
                "fmr": self.fmr, "n_authentic": self.n_authentic, "rule": self.rule,
                "heldout_fmr": self.heldout_fmr, "heldout_n": self.heldout_n}

    @classmethod
    def from_json(cls, d: dict) -> "MarkGate":
        return cls(str(d["statistic"]), float(d["threshold"]), float(d["target_fmr"]), float(d["fmr"]),
                   int(d["n_authentic"]), str(d.get("rule", "point")),
                   None if d.get("heldout_fmr") is None else float(d["heldout_fmr"]), int(d.get("heldout_n", 0)))

    @classmethod
    def fit(cls, statistic: str, authentic: np.ndarray, target_fmr: float, rule: str = "upper95") -> "MarkGate":
        """The smallest threshold (an observed authentic value) that leaves at most ``k`` of ``authentic`` above it,
        ``k`` the largest count whose rate (``point``) or Wilson upper bound (``upper95``) is ≤ ``target_fmr``."""
        a = np.sort(np.asarray(authentic, dtype=np.float64))
        n = len(a)
        k = int(np.floor(target_fmr * n + 1e-9))  # authentic images allowed above the threshold
        if rule == "upper95":
            while k > 0 and wilson_interval(k, n)[1] > target_fmr + 1e-12:
                k -= 1
        elif rule != "point":
            raise ValueError(f"unknown gate rule {rule!r}")
        t = float(a[n - 1 - k]) if n else float("inf")
        if t == -np.inf:  # more than k images mark no cell at all: any marked image passes
            t = -1e300
        return cls(statistic, t, float(target_fmr), float((a > t).mean()) if n else 0.0, n, rule)


__all__ = ["NoiseResult", "MarkGate", "GATE_STATS", "marked_mask", "analyse_noise", "haar_hh1", "two_class_gain", "wavelet_sigma", "MAX_SIDE"]
