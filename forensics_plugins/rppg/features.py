"""FakeCatcher-style biological-signal features over short windows of a face track.

U. A. Ciftci, I. Demir and L. Yin, "FakeCatcher: Detection of Synthetic Portrait
Videos using Biological Signals", IEEE TPAMI 2020. The paper's premise: the pulse
of a real face shows up in every skin region with the same rhythm (spatial
consistency) and keeps that rhythm over time (temporal consistency); generative
models do not reproduce it. We keep the paper's spirit -- several regions, several
rPPG methods, spectral, cross-region and temporal statistics, an SVM over windows
aggregated per video -- with a smaller, documented feature set suited to the little
training data available.

Input: a track's mean colours per region (:data:`regions.REGIONS`) and per PPG-map cell,
resampled to :data:`signals.FS`. Signals are extracted once over the whole track
(:func:`track_signals`), then cut into windows of :data:`WINDOW_S` seconds every
:data:`STEP_S` seconds (:func:`window_features`).

Features (one row per window; names in :data:`FEATURES`)
-------------------------------------------------------
Per method ``m`` in CHROM, POS, GREEN:

``{m}_band_power``
    Share of the power of the (detrended, not band-passed) signal lying in the
    heart-rate band 0.7-4 Hz, out of 0.2-5 Hz; median over regions. A pulse puts its
    power in the band; noise and compression artefacts spread it.
``{m}_snr_db``
    SNR of the dominant spectral peak (de Haan & Jeanne 2013: ±0.1 Hz around the peak
    and its first harmonic vs. the rest of the band); median over regions.
``{m}_hr_spread_bpm``
    Standard deviation of the heart rate estimated in each region: the same heart
    beats under the whole face, so a real face gives a small spread.
``{m}_pair_corr``
    Mean Pearson correlation of the band-passed signals of :data:`PAIRS` of regions
    (cheek/cheek, forehead/cheeks, FakeCatcher's left/right/mid regions): spatial
    consistency.

Across methods and regions:

``hr_chrom_pos_diff_bpm``, ``hr_chrom_green_diff_bpm``
    Disagreement of the heart rates of the three methods (each from the average of its
    region spectra): on a real face, three different colour projections find the same
    beat.
``coherence_mean``, ``coherence_min``
    Magnitude-squared coherence (Welch, 2 s segments) of the CHROM signals of each
    pair of regions, averaged over ±0.2 Hz around the window's heart rate; mean and
    minimum over pairs.
``lr_lag_s``
    Absolute lag (s) of the maximum cross-correlation between the left and right
    cheek signals, searched within ±0.3 s: a physiological pulse reaches both cheeks
    at (nearly) the same time.
``hr_temporal_std_bpm``
    Standard deviation of the CHROM heart rate over 3 s sub-windows (0.5 s apart)
    inside the window: temporal consistency of the rhythm.
``corr_temporal_std``
    Standard deviation of the CHROM mean pair correlation over the same sub-windows:
    temporal consistency of the spatial coherence.

PPG map (FakeCatcher's map of per-cell signals, here a 4×4 grid over the face skin,
CHROM):

``map_corr_mean``
    Mean pairwise correlation of the cells' band-passed signals.
``map_hr_agreement``
    Share of cells whose own heart rate is within 6 bpm of the window's heart rate.
``map_snr_mean``, ``map_snr_std``
    Mean and standard deviation of the cells' SNR (dB): how evenly the pulse is
    visible over the face.

Every feature is finite for any input (noise, constant colour, missing regions):
undefined quantities take a documented neutral value (correlation 0, SNR −20 dB,
spread/lag at their worst bound).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import signals as S
from .regions import REGIONS

WINDOW_S = 5.0  # analysis window (FakeCatcher: 128 frames ≈ 4.3 s at 30 fps)
STEP_S = 1.0
SUB_WINDOW_S = 3.0  # sub-windows for the temporal-consistency features
SUB_STEP_S = 0.5
HR_AGREE_BPM = 6.0
MAX_LAG_S = 0.3
PAIRS = (
    ("left_cheek", "right_cheek"),
    ("forehead", "left_cheek"),
    ("forehead", "right_cheek"),
    ("left_face", "right_face"),
    ("mid_face", "left_face"),
    ("mid_face", "right_face"),
)
MAX_SPREAD_BPM = 60.0

FEATURES = tuple(
    [f"{m}_band_power" for m in S.METHODS]
    + [f"{m}_snr_db" for m in S.METHODS]
    + [f"{m}_hr_spread_bpm" for m in S.METHODS]
    + [f"{m}_pair_corr" for m in S.METHODS]
    + ["hr_chrom_pos_diff_bpm", "hr_chrom_green_diff_bpm", "coherence_mean", "coherence_min", "lr_lag_s",
       "hr_temporal_std_bpm", "corr_temporal_std", "map_corr_mean", "map_hr_agreement", "map_snr_mean",
       "map_snr_std"]
)

# FakeCatcher's premise, feature by feature: +1 = expected higher for a real face (a clear,
# shared pulse), -1 = expected lower. Training reports which features the data contradicts.
PREMISE = {f: (-1 if f.endswith(("_spread_bpm", "_diff_bpm", "_std_bpm")) or f in ("lr_lag_s", "corr_temporal_std",
                                                                               "map_snr_std") else +1)
           for f in FEATURES}


@dataclass
class TrackSignals:
    """Pulse signals of one face track, uniformly sampled at ``fs``."""

    fs: float
    times: np.ndarray  # (T,) seconds
    regions: tuple[str, ...]  # regions present (NaN-free after interpolation)
    signals: dict[str, np.ndarray]  # method -> (R, T) band-passed, unit variance
    raw: dict[str, np.ndarray]  # method -> (R, T) detrended, not band-passed
    cells: np.ndarray  # (C, T) CHROM signals of the usable PPG-map cells
    rgb: np.ndarray  # (R, T, 3) the region colour traces
    info: dict = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return len(self.times) / self.fs if len(self.times) else 0.0


def fill_gaps(x: np.ndarray, max_missing: float = 0.2) -> np.ndarray | None:
    """Linearly interpolate NaN rows of a ``(T, 3)`` trace; ``None`` if more than ``max_missing`` is missing."""
    bad = ~np.isfinite(x).all(axis=1)
    if bad.mean() > max_missing or (~bad).sum() < 2:
        return None
    if not bad.any():
        return x
    idx = np.arange(len(x))
    return np.stack([np.interp(idx, idx[~bad], x[~bad, c]) for c in range(x.shape[1])], axis=1)


def track_signals(times: np.ndarray, region_rgb: np.ndarray, cell_rgb: np.ndarray | None = None,
                  fs: float = S.FS) -> TrackSignals:
    """Resample a track's colour traces to ``fs`` and extract CHROM, POS and GREEN per region.

    Parameters
    ----------
    times : (N,) seconds of each observation (increasing; gaps are interpolated)
    region_rgb : (N, len(REGIONS), 3) mean colour per region (NaN where unavailable)
    cell_rgb : (N, C, 3) mean colour per PPG-map cell, or None
    """
    times = np.asarray(times, dtype=np.float64)
    names, traces = [], []
    for i, name in enumerate(REGIONS):
        tr = fill_gaps(np.asarray(region_rgb[:, i], dtype=np.float64))
        if tr is not None:
            t, u = S.resample_uniform(times, tr, fs)
            names.append(name)
            traces.append(u)
    t = S.resample_uniform(times, np.zeros(len(times)), fs)[0]
    sig = {m: np.zeros((len(names), len(t))) for m in S.METHODS}
    raw = {m: np.zeros((len(names), len(t))) for m in S.METHODS}
    for i, u in enumerate(traces):
        for m in S.METHODS:
            sig[m][i] = S.extract(u, fs, m)
            raw[m][i] = S.extract(u, fs, m, passband=False)
    cells = []
    if cell_rgb is not None and len(cell_rgb):
        for c in range(cell_rgb.shape[1]):
            tr = fill_gaps(np.asarray(cell_rgb[:, c], dtype=np.float64))
            if tr is not None:
                cells.append(S.chrom(S.resample_uniform(times, tr, fs)[1], fs))
    return TrackSignals(fs=fs, times=t, regions=tuple(names), signals=sig, raw=raw,
                        cells=np.array(cells).reshape(len(cells), len(t)),
                        rgb=np.array(traces).reshape(len(traces), len(t), 3))


# ---------------------------------------------------------------------------- helpers


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    sa, sb = a.std(), b.std()
    if sa < 1e-9 or sb < 1e-9:
        return 0.0
    return float(np.clip(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb), -1.0, 1.0))


def mean_spectrum_hr(x: np.ndarray, fs: float) -> float:
    """Heart rate (bpm) from the average of the rows' normalised spectra (``x``: (R, T))."""
    acc = None
    for row in np.atleast_2d(x):
        f, p = S.spectrum(row, fs)
        tot = p.sum()
        if tot > 0:
            acc = p / tot if acc is None else acc + p / tot
    if acc is None:
        return float("nan")
    return 60.0 * S.peak_frequency(f, acc)


def _pair_index(regions: tuple[str, ...]) -> list[tuple[int, int]]:
    return [(regions.index(a), regions.index(b)) for a, b in PAIRS if a in regions and b in regions]


def pair_correlation(x: np.ndarray, pairs: list[tuple[int, int]]) -> float:
    return float(np.mean([_corr(x[i], x[j]) for i, j in pairs])) if pairs else 0.0


def coherence_at(a: np.ndarray, b: np.ndarray, fs: float, f0: float, half_width: float = 0.2) -> float:
    """Magnitude-squared coherence of ``a`` and ``b`` averaged over ``f0 ± half_width`` Hz."""
    from scipy.signal import coherence

    n = min(len(a), int(round(2.0 * fs)))
    if n < 8 or not np.isfinite(f0) or a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    f, c = coherence(a, b, fs=fs, nperseg=n, noverlap=3 * n // 4, nfft=max(n, 256))
    sel = np.abs(f - f0) <= half_width
    if not sel.any():
        sel = [int(np.argmin(np.abs(f - f0)))]
    return float(np.nan_to_num(np.mean(c[sel])))


def lag_of_max_xcorr(a: np.ndarray, b: np.ndarray, fs: float, max_lag_s: float = MAX_LAG_S) -> float:
    """|lag| (s) of the maximum normalised cross-correlation of ``a`` and ``b`` within ±``max_lag_s``."""
    k = int(round(max_lag_s * fs))
    if a.std() < 1e-9 or b.std() < 1e-9:
        return max_lag_s
    a = (a - a.mean()) / a.std()
    b = (b - b.mean()) / b.std()
    n = len(a)
    best, lag = -np.inf, 0
    for d in range(-k, k + 1):
        c = np.mean(a[max(0, d):n + min(0, d)] * b[max(0, -d):n - max(0, d)])
        if c > best:
            best, lag = c, d
    return abs(lag) / fs


# ---------------------------------------------------------------------------- windows


@dataclass
class WindowResult:
    start_s: float
    features: np.ndarray  # (len(FEATURES),)
    hr_bpm: dict[str, float]  # method -> heart rate of the window
    region_hr_bpm: dict[str, list[float]]  # method -> per-region heart rate


def window_starts(n: int, fs: float, window_s: float = WINDOW_S, step_s: float = STEP_S) -> list[int]:
    """Start indices of the analysis windows (the last one flush with the end)."""
    L = int(round(window_s * fs))
    if n < L:
        return []
    step = max(1, int(round(step_s * fs)))
    starts = list(range(0, n - L + 1, step))
    if starts[-1] != n - L:
        starts.append(n - L)
    return starts


def window_features(ts: TrackSignals, start: int, window_s: float = WINDOW_S) -> WindowResult:
    """The :data:`FEATURES` of one window starting at sample ``start``."""
    fs = ts.fs
    L = int(round(window_s * fs))
    sl = slice(start, start + L)
    pairs = _pair_index(ts.regions)
    feats: dict[str, float] = {}
    hr: dict[str, float] = {}
    region_hr: dict[str, list[float]] = {}
    for m in S.METHODS:
        x = ts.signals[m][:, sl]
        raw = ts.raw[m][:, sl]
        hrs, snrs, bps = [], [], []
        for i in range(x.shape[0]):
            f, p = S.spectrum(x[i], fs)
            f0 = S.peak_frequency(f, p)
            hrs.append(60.0 * f0)
            snrs.append(S.snr_db(f, p, f0))
            bps.append(S.band_power_fraction(raw[i], fs))
        region_hr[m] = [float(v) for v in hrs]
        hr[m] = mean_spectrum_hr(x, fs) if len(x) else float("nan")
        finite = np.array([h for h in hrs if np.isfinite(h)])
        feats[f"{m}_band_power"] = float(np.median(bps)) if bps else 0.0
        feats[f"{m}_snr_db"] = float(np.median(snrs)) if snrs else -20.0
        feats[f"{m}_hr_spread_bpm"] = float(min(finite.std(), MAX_SPREAD_BPM)) if len(finite) > 1 else MAX_SPREAD_BPM
        feats[f"{m}_pair_corr"] = pair_correlation(x, pairs)

    def diff(a: str, b: str) -> float:
        d = abs(hr[a] - hr[b])
        return float(min(d, MAX_SPREAD_BPM)) if np.isfinite(d) else MAX_SPREAD_BPM

    feats["hr_chrom_pos_diff_bpm"] = diff("chrom", "pos")
    feats["hr_chrom_green_diff_bpm"] = diff("chrom", "green")
    xc = ts.signals["chrom"][:, sl]
    f0 = hr["chrom"] / 60.0
    cohs = [coherence_at(xc[i], xc[j], fs, f0) for i, j in pairs]
    feats["coherence_mean"] = float(np.mean(cohs)) if cohs else 0.0
    feats["coherence_min"] = float(np.min(cohs)) if cohs else 0.0
    if "left_cheek" in ts.regions and "right_cheek" in ts.regions:
        feats["lr_lag_s"] = lag_of_max_xcorr(xc[ts.regions.index("left_cheek")], xc[ts.regions.index("right_cheek")], fs)
    else:
        feats["lr_lag_s"] = MAX_LAG_S
    # temporal consistency inside the window
    sub = int(round(SUB_WINDOW_S * fs))
    sub_hr, sub_corr = [], []
    for s0 in range(0, L - sub + 1, max(1, int(round(SUB_STEP_S * fs)))):
        seg = xc[:, s0:s0 + sub]
        if len(seg):
            sub_hr.append(mean_spectrum_hr(seg, fs))
            sub_corr.append(pair_correlation(seg, pairs))
    sub_hr = np.array([h for h in sub_hr if np.isfinite(h)])
    feats["hr_temporal_std_bpm"] = float(min(sub_hr.std(), MAX_SPREAD_BPM)) if len(sub_hr) > 1 else MAX_SPREAD_BPM
    feats["corr_temporal_std"] = float(np.std(sub_corr)) if len(sub_corr) > 1 else 1.0
    # PPG map
    cells = ts.cells[:, sl]
    if len(cells) >= 2:
        cc = np.corrcoef(cells) if np.all(cells.std(axis=1) > 1e-9) else None
        if cc is None:
            feats["map_corr_mean"] = 0.0
        else:
            iu = np.triu_indices(len(cells), 1)
            feats["map_corr_mean"] = float(np.nan_to_num(cc[iu]).mean())
        cell_hr, cell_snr = [], []
        for row in cells:
            f, p = S.spectrum(row, fs)
            c0 = S.peak_frequency(f, p)
            cell_hr.append(60.0 * c0)
            cell_snr.append(S.snr_db(f, p, c0))
        cell_hr = np.array(cell_hr)
        ok = np.isfinite(cell_hr) & np.isfinite(hr["chrom"])
        feats["map_hr_agreement"] = float(np.mean(np.abs(cell_hr[ok] - hr["chrom"]) <= HR_AGREE_BPM)) if ok.any() else 0.0
        feats["map_snr_mean"] = float(np.mean(cell_snr))
        feats["map_snr_std"] = float(np.std(cell_snr))
    else:
        feats.update(map_corr_mean=0.0, map_hr_agreement=0.0, map_snr_mean=-20.0, map_snr_std=0.0)
    vec = np.array([feats[k] for k in FEATURES], dtype=np.float64)
    vec = np.nan_to_num(vec, nan=0.0, posinf=0.0, neginf=0.0)
    return WindowResult(start_s=start / fs, features=vec, hr_bpm=hr, region_hr_bpm=region_hr)


def track_features(ts: TrackSignals, window_s: float = WINDOW_S, step_s: float = STEP_S) -> list[WindowResult]:
    """Features of every window of the track (empty if the track is shorter than one window)."""
    return [window_features(ts, s, window_s) for s in window_starts(len(ts.times), ts.fs, window_s, step_s)]
