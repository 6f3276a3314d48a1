"""Remote photoplethysmography (rPPG): pulse signals from mean skin colour over time.

Plain functions over NumPy arrays, no hidden state. The input everywhere is an
``(N, 3)`` array of mean **RGB** skin colour per frame (a *trace*), sampled at a
uniform rate ``fs`` (use :func:`resample_uniform` first when frame times are
uneven). The output is a 1-D pulse signal of length ``N``.

Methods
-------
* :func:`green` -- GREEN: the normalised green channel (W. Verkruysse, L. O. Svaasand
  and J. S. Nelson, "Remote plethysmographic imaging using ambient light",
  Optics Express 16(26), 2008).
* :func:`chrom` -- CHROM: two chrominance signals that cancel specular reflection,
  combined with a ratio of standard deviations (G. de Haan and V. Jeanne,
  "Robust pulse rate from chrominance-based rPPG", IEEE TBME 60(10), 2013).
* :func:`pos` -- POS: projection of the temporally normalised colour onto the plane
  orthogonal to skin tone (W. Wang, A. C. den Brinker, S. Stuijk and G. de Haan,
  "Algorithmic principles of remote PPG", IEEE TBME 64(7), 2017).

All three work on short overlapping windows (1.6 s, as in both papers), are
overlap-added, detrended with the smoothness-priors method (M. P. Tarvainen et al.,
IEEE TBME 49(2), 2002) and band-passed to the heart-rate band :data:`HR_BAND_HZ`
(0.7--4 Hz = 42--240 bpm) with a zero-phase Butterworth filter.

Example
-------
>>> import numpy as np
>>> fs, f0 = 30.0, 1.2                              # 72 bpm
>>> t = np.arange(300) / fs
>>> pulse = 0.01 * np.sin(2 * np.pi * f0 * t)
>>> rgb = np.array([150.0, 110.0, 90.0]) * (1 + np.outer(pulse, [0.33, 0.77, 0.53]))
>>> round(heart_rate(chrom(rgb, fs), fs)[0])
72
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HR_BAND_HZ = (0.7, 4.0)  # 42-240 bpm
FS = 30.0  # the fixed rate traces are resampled to before extraction
DETREND_CUTOFF_HZ = 0.3  # slower variation is trend (lighting drift, slow motion)
WINDOW_S = 1.6  # sliding window of CHROM and POS (de Haan 2013; Wang 2017)
METHODS = ("chrom", "pos", "green")
_EPS = 1e-9


# ---------------------------------------------------------------------------- preprocessing


def resample_uniform(times: np.ndarray, values: np.ndarray, fs: float = FS) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate samples taken at ``times`` onto a uniform grid at ``fs`` Hz.

    Parameters
    ----------
    times : (N,) seconds, strictly increasing
    values : (N,) or (N, C)
    fs : output rate, Hz

    Returns
    -------
    (t, v) : the uniform times (starting at ``times[0]``) and the interpolated values.
    """
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if len(times) < 2:
        return times.copy(), values.copy()
    n = int(np.floor((times[-1] - times[0]) * fs + 1e-6)) + 1
    t = times[0] + np.arange(n) / fs
    if values.ndim == 1:
        return t, np.interp(t, times, values)
    return t, np.stack([np.interp(t, times, values[:, c]) for c in range(values.shape[1])], axis=1)


def detrend_lambda(fs: float, cutoff_hz: float = DETREND_CUTOFF_HZ) -> float:
    """Smoothness parameter for :func:`detrend` whose trend filter has its half-power point at ``cutoff_hz``.

    The trend estimate is a low-pass with response ``1 / (1 + λ²·(2 − 2cos ω)²)``; for small
    ``ω`` half power is at ``ω = λ^(-1/2)``, so ``λ = (fs / (2π·cutoff))²``.
    """
    return (fs / (2 * np.pi * cutoff_hz)) ** 2


def trend(x: np.ndarray, lam: float) -> np.ndarray:
    """The smooth trend ``(I + λ² D₂ᵀD₂)⁻¹ x`` of Tarvainen et al. (2002), along axis 0."""
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n < 3:
        return np.broadcast_to(x.mean(axis=0), x.shape).copy()
    d2 = sparse.diags([np.ones(n - 2), -2 * np.ones(n - 2), np.ones(n - 2)], [0, 1, 2], shape=(n - 2, n))
    a = (sparse.identity(n) + lam ** 2 * (d2.T @ d2)).tocsc()
    return np.asarray(spsolve(a, x)).reshape(x.shape)


def detrend(x: np.ndarray, fs: float = FS, cutoff_hz: float = DETREND_CUTOFF_HZ) -> np.ndarray:
    """Smoothness-priors detrending (Tarvainen et al. 2002): ``x − trend(x)``, along axis 0.

    Removes variation slower than ``cutoff_hz`` (lighting drift, slow head motion),
    leaving the pulse band (≥ 0.7 Hz) essentially untouched.
    """
    x = np.asarray(x, dtype=np.float64)
    return x - trend(x, detrend_lambda(fs, cutoff_hz))


def bandpass(x: np.ndarray, fs: float, band: tuple[float, float] = HR_BAND_HZ, order: int = 3) -> np.ndarray:
    """Zero-phase Butterworth band-pass along axis 0 (``scipy.signal.sosfiltfilt``)."""
    from scipy.signal import butter, sosfiltfilt

    x = np.asarray(x, dtype=np.float64)
    hi = min(band[1], 0.45 * fs)
    sos = butter(order, [band[0], hi], btype="bandpass", fs=fs, output="sos")
    padlen = min(3 * (2 * len(sos) + 1) * 2, x.shape[0] - 1)
    return sosfiltfilt(sos, x, axis=0, padlen=max(padlen, 0))


def _window_len(fs: float, window_s: float = WINDOW_S) -> int:
    n = int(round(window_s * fs))
    return max(4, n + (n % 2))  # even, for a 50 % hop


def _alpha_tune(a: np.ndarray, b: np.ndarray, fs: float, sign: float) -> np.ndarray:
    """Overlap-add ``a + sign·(σ(a)/σ(b))·b`` over 50 %-overlapping Hann windows of :data:`WINDOW_S`.

    The shared step of CHROM (``sign = −1``) and POS (``sign = +1``): the ratio of standard
    deviations is re-estimated in every short window so that it follows changes in
    illumination and motion.
    """
    n = len(a)
    L = min(_window_len(fs), n - (n % 2))
    if L < 4:
        return a - a.mean() if n else a
    hop = L // 2
    w = np.hanning(L + 2)[1:-1]  # periodic-like Hann without zero end points
    out, norm = np.zeros(n), np.zeros(n)
    starts = list(range(0, n - L + 1, hop))
    if starts[-1] != n - L:
        starts.append(n - L)
    for s in starts:
        sa, sb = a[s:s + L], b[s:s + L]
        h = sa + sign * (sa.std() / max(sb.std(), _EPS)) * sb
        out[s:s + L] += w * (h - h.mean())
        norm[s:s + L] += w
    return out / np.maximum(norm, _EPS)


def _finish(h: np.ndarray, fs: float, passband: bool = True) -> np.ndarray:
    h = detrend(h, fs)
    if passband:
        h = bandpass(h, fs)
    sd = h.std()
    return h / sd if sd > _EPS else h * 0.0


def normalise(rgb: np.ndarray, fs: float) -> np.ndarray:
    """Colour divided by its own slow trend (per channel), minus one: relative colour change.

    This is the "temporal normalisation" step of CHROM/POS done with a smooth trend
    (cut-off :data:`DETREND_CUTOFF_HZ`) instead of a block mean, so slow illumination
    changes are divided out without block edges.
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    tr = trend(rgb, detrend_lambda(fs))
    ok = np.abs(tr) > _EPS
    return np.where(ok, rgb / np.where(ok, tr, 1.0) - 1.0, 0.0)


# ---------------------------------------------------------------------------- methods


def green(rgb: np.ndarray, fs: float = FS, passband: bool = True) -> np.ndarray:
    """GREEN (Verkruysse 2008): the relative change of the green channel, band-passed.

    Parameters
    ----------
    rgb : (N, 3) mean skin colour per frame, uniformly sampled
    fs : sampling rate, Hz

    Returns
    -------
    (N,) unit-variance pulse signal (zeros if the input is constant).
    """
    return _finish(normalise(rgb, fs)[:, 1], fs, passband)


def chrom(rgb: np.ndarray, fs: float = FS, passband: bool = True) -> np.ndarray:
    """CHROM (de Haan & Jeanne 2013): ``S = X_f − α·Y_f`` with ``X = 3R − 2G``, ``Y = 1.5R + G − 1.5B``.

    ``R, G, B`` are the colour relative to its slow trend (:func:`normalise`); ``X`` and
    ``Y`` are band-passed, and ``α = σ(X_f)/σ(Y_f)`` is estimated per 1.6 s window
    (Hann-weighted overlap-add), which cancels the specular (white) component.

    Returns
    -------
    (N,) unit-variance pulse signal.
    """
    d = normalise(rgb, fs)
    xy = np.stack([3.0 * d[:, 0] - 2.0 * d[:, 1], 1.5 * d[:, 0] + d[:, 1] - 1.5 * d[:, 2]], axis=1)
    if passband and len(xy) >= 8:
        xy = bandpass(xy, fs)
    return _finish(_alpha_tune(xy[:, 0], xy[:, 1], fs, -1.0), fs, passband)


_POS_P = np.array([[0.0, 1.0, -1.0], [-2.0, 1.0, 1.0]])


def pos(rgb: np.ndarray, fs: float = FS, passband: bool = True) -> np.ndarray:
    """POS (Wang et al. 2017): project the normalised colour on ``[0, 1, −1]`` and ``[−2, 1, 1]``.

    Both axes are orthogonal to the (normalised) skin tone ``[1, 1, 1]``; the pulse is
    ``h = S₁ + (σ(S₁)/σ(S₂))·S₂`` per 1.6 s window, overlap-added, then band-passed.

    Returns
    -------
    (N,) unit-variance pulse signal.
    """
    s = normalise(rgb, fs) @ _POS_P.T
    return _finish(_alpha_tune(s[:, 0], s[:, 1], fs, +1.0), fs, passband)


def extract(rgb: np.ndarray, fs: float = FS, method: str = "chrom", passband: bool = True) -> np.ndarray:
    """Pulse signal by name: ``"chrom"``, ``"pos"`` or ``"green"``.

    ``passband=False`` skips the final band-pass (the signal is only detrended), for
    measuring how much of its power lies in the heart-rate band.
    """
    try:
        fn = {"chrom": chrom, "pos": pos, "green": green}[method]
    except KeyError:
        raise ValueError(f"unknown rPPG method {method!r}; choose from {', '.join(METHODS)}") from None
    return fn(rgb, fs, passband)


# ---------------------------------------------------------------------------- spectra


def spectrum(x: np.ndarray, fs: float, resolution_hz: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Hann-windowed, zero-padded power spectrum of ``x`` (one-sided, unnormalised).

    Zero padding to ``fs / resolution_hz`` points interpolates the spectrum so the peak
    can be located finer than the ``1/T`` bin spacing of a short window.

    Returns
    -------
    (freqs_hz, power)
    """
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    nfft = max(len(x), int(2 ** np.ceil(np.log2(fs / resolution_hz))))
    p = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=nfft)) ** 2
    return np.fft.rfftfreq(nfft, 1.0 / fs), p


def welch_spectrum(x: np.ndarray, fs: float, segment_s: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectrum (Hann segments of ``segment_s``, 50 % overlap, zero-padded ×8): for long clips."""
    from scipy.signal import welch

    x = np.asarray(x, dtype=np.float64)
    nper = min(len(x), int(round(segment_s * fs)))
    nfft = max(nper, int(2 ** np.ceil(np.log2(fs / 0.01))))
    return welch(x, fs=fs, nperseg=nper, noverlap=nper // 2, nfft=nfft, detrend="constant")


def peak_frequency(freqs: np.ndarray, power: np.ndarray, band: tuple[float, float] = HR_BAND_HZ) -> float:
    """Frequency (Hz) of the highest spectral peak inside ``band``, refined by parabolic interpolation."""
    sel = np.flatnonzero((freqs >= band[0]) & (freqs <= band[1]))
    if len(sel) == 0 or not np.any(power[sel] > 0):
        return float("nan")
    i = sel[int(np.argmax(power[sel]))]
    if 0 < i < len(power) - 1:
        a, b, c = power[i - 1], power[i], power[i + 1]
        den = a - 2 * b + c
        off = 0.5 * (a - c) / den if abs(den) > 0 else 0.0
        return float(freqs[i] + np.clip(off, -0.5, 0.5) * (freqs[1] - freqs[0]))
    return float(freqs[i])


def snr_db(freqs: np.ndarray, power: np.ndarray, f0: float, band: tuple[float, float] = HR_BAND_HZ,
           half_width_hz: float = 0.1) -> float:
    """SNR of the pulse peak (de Haan & Jeanne 2013): power within ±0.1 Hz of ``f0`` and of its
    first harmonic ``2·f0``, over the rest of the power in ``band``, in dB."""
    if not np.isfinite(f0):
        return -20.0
    inb = (freqs >= band[0]) & (freqs <= max(band[1], 2 * f0 + half_width_hz))
    sig = inb & ((np.abs(freqs - f0) <= half_width_hz) | (np.abs(freqs - 2 * f0) <= half_width_hz))
    s, n = power[sig].sum(), power[inb & ~sig].sum()
    if s <= 0:
        return -20.0
    return float(np.clip(10 * np.log10(s / max(n, _EPS * s)), -20.0, 40.0))


def heart_rate(signal: np.ndarray, fs: float, welch: bool = False) -> tuple[float, float]:
    """Heart rate (bpm) at the highest peak of the band-limited spectrum, and its SNR (dB).

    ``welch=True`` averages 10 s segments (long clips); otherwise one zero-padded periodogram.
    """
    f, p = welch_spectrum(signal, fs) if welch else spectrum(signal, fs)
    f0 = peak_frequency(f, p)
    return 60.0 * f0, snr_db(f, p, f0)


def band_power_fraction(x: np.ndarray, fs: float, band: tuple[float, float] = HR_BAND_HZ,
                        total: tuple[float, float] = (0.2, 5.0)) -> float:
    """Share of the power of ``x`` (detrended, not band-passed) in ``band``, out of the ``total`` range.

    The total range stops at 5 Hz, the Nyquist frequency of the slowest accepted
    video (10 fps), so the figure means the same for every frame rate.
    """
    f, p = spectrum(x, fs, resolution_hz=0.05)
    tot = p[(f >= total[0]) & (f <= total[1])].sum()
    if tot <= 0:
        return 0.0
    return float(p[(f >= band[0]) & (f <= band[1])].sum() / tot)


# ---------------------------------------------------------------------------- traces from region clips


def skin_pixels_mean(rgb: np.ndarray, mask: np.ndarray | None = None, low: int = 8, high: int = 250) -> np.ndarray:
    """Mean RGB over ``mask`` (all pixels if ``None``), leaving out near-black (brightest channel
    ``< low``) and saturated (brightest channel ``≥ high``) pixels, which carry no pulse.

    Falls back to the plain masked mean when fewer than 5 % of the pixels pass (very dark
    clips). Returns NaNs for an empty mask.
    """
    import cv2

    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    mx = cv2.max(cv2.max(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
    ok = cv2.inRange(mx, low, high - 1)
    m8 = None
    if mask is not None:
        m8 = np.ascontiguousarray(mask, dtype=np.uint8)
        total = cv2.countNonZero(m8)
        if total == 0:
            return np.full(3, np.nan)
        ok = cv2.bitwise_and(ok, ok, mask=m8)
    else:
        total = mx.size
    if cv2.countNonZero(ok) < max(16, 0.05 * total):
        ok = m8
    return np.asarray(cv2.mean(rgb, mask=ok)[:3], dtype=np.float64)


def trace_from_video(path: str, max_seconds: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean-colour trace of a skin-region clip (the whole frame is the region).

    For clips that already show only skin (a forehead or cheek patch, as in rPPG
    benchmark data sets), no face pipeline is needed: this decodes every frame with
    PyAV and averages its pixels (:func:`skin_pixels_mean`).

    Returns
    -------
    (times_s, rgb (N, 3), fps)
    """
    import av

    with av.open(path, mode="r") as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 30.0
        times, means = [], []
        for i, frame in enumerate(container.decode(stream)):
            t = float(frame.time) if frame.time is not None else i / fps
            if max_seconds is not None and t > max_seconds:
                break
            times.append(t)
            means.append(skin_pixels_mean(frame.to_ndarray(format="rgb24")))
    t = np.asarray(times)
    if len(t) > 1 and not np.all(np.diff(t) > 0):  # broken timestamps: trust the nominal rate
        t = np.arange(len(t)) / fps
    return t, np.asarray(means), fps


def clip_heart_rates(times: np.ndarray, rgb: np.ndarray, fs: float = FS) -> dict[str, dict[str, float]]:
    """Heart rate (bpm) and SNR (dB) of a whole trace by every method (Welch over 10 s segments)."""
    _, u = resample_uniform(times, rgb, fs)
    out = {}
    for m in METHODS:
        hr, snr = heart_rate(extract(u, fs, m), fs, welch=len(u) > 20 * fs)
        out[m] = {"hr_bpm": hr, "snr_db": snr}
    return out


# ---------------------------------------------------------------------------- heart-rate estimator

HR_SEARCH_BAND_HZ = (0.7, 3.0)  # 42-180 bpm: the heart rates the estimator reports (resting to strong exertion)
# Reliability gate, set on noise, not on subjects: a window is "clean" when its fused spectrum has an SNR
# (fundamental + first harmonic, de Haan & Jeanne 2013) of at least GATE_SNR_DB. For band-limited white noise
# through this pipeline (POS at 30 Hz, 12 s windows) the SNR at the highest peak is about -7 dB (95th
# percentile about -4 dB); `python benchmarks/rppg_hr.py` prints the gate's false-accept rate on such noise.
GATE_SNR_DB = -1.0


@dataclass
class HREstimatorConfig:
    """Settings of :func:`estimate_heart_rate` (chosen on tuning subjects by ``benchmarks/rppg_hr.py``).

    Attributes
    ----------
    method : pulse extraction (``"pos"``, ``"chrom"``, ``"green"``, or ``"all"``: every method's signal of every
        region, fused together like regions)
    window_s, step_s : analysis windows (each gives one heart rate; longer = finer resolution, fewer of them)
    segment_s : Welch segment inside a window (Hann, 50 % overlap; ``>= window_s`` = one periodogram)
    band_hz : the search band
    weighting : ``"snr"`` (regions weighted by their own linear SNR in each window) or ``"equal"``
    harmonic_ratio : pick the sub-harmonic ``f/2`` of the highest peak when it is in the band, is a local peak
        and holds at least this share of the peak's power (0 = off): the pulse's second harmonic can out-peak
        the fundamental (dicrotic waveform)
    min_snr_db : windows whose fused SNR is below this are rejected (not used for the heart rate)
    min_clean_share : the estimate is *reliable* only when at least this share of windows passes ``min_snr_db``
    max_spread_bpm : ... and the clean windows' heart rates agree (interquartile range at most this)
    track_bpm : second pass: each window's peak is searched within this distance of the first-pass median
        (0 = off; a simple tracker that stops single windows jumping to a noise peak)
    aggregate : ``"median"`` (SNR-weighted median of the window heart rates) or ``"spectrum"`` (peak of the
        SNR-weighted sum of the clean windows' spectra)
    harmonic_weight : peaks are picked on the harmonic sum ``P(f) + w·P(2f)`` (subharmonic summation, D. J. Hermes,
        JASA 83(1), 1988): a pulse puts power at its rate and at twice it, most noise peaks have no partner at the
        double frequency (0 = plain spectrum). The SNR is measured on the plain spectrum either way.
    """

    method: str = "pos"
    window_s: float = 12.0
    step_s: float = 1.0
    segment_s: float = 6.0
    band_hz: tuple[float, float] = HR_SEARCH_BAND_HZ
    weighting: str = "snr"
    harmonic_ratio: float = 0.5
    min_snr_db: float = GATE_SNR_DB
    min_clean_share: float = 0.5
    max_spread_bpm: float = 10.0
    track_bpm: float = 15.0
    aggregate: str = "median"
    harmonic_weight: float = 0.0

    def to_json(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, d: dict | None) -> HREstimatorConfig:
        """A setting stored by :meth:`to_json` (unknown keys, e.g. from older cards, are ignored)."""
        d = {k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__}
        if "band_hz" in d:
            d["band_hz"] = tuple(d["band_hz"])
        return cls(**d)


def window_spectrum(x: np.ndarray, fs: float, band: tuple[float, float], segment_s: float,
                    resolution_hz: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Welch spectrum of one window (``scipy.signal.welch``: Hann segments of ``segment_s``, 50 % overlap,
    zero-padded to ``resolution_hz``), kept from ``band[0]`` to twice ``band[1]`` (room for the first
    harmonic) and scaled to unit sum inside ``band``."""
    from scipy.signal import welch

    x = np.asarray(x, dtype=np.float64)
    nper = max(8, min(len(x), int(round(segment_s * fs))))
    nfft = max(nper, int(2 ** np.ceil(np.log2(fs / resolution_hz))))
    f, p = welch(x, fs=fs, window="hann", nperseg=nper, noverlap=nper // 2, nfft=nfft, detrend="constant")
    sel = (f >= band[0] - 0.05) & (f <= min(2 * band[1] + 0.15, fs / 2))
    f, p = f[sel], p[sel]
    tot = p[(f >= band[0]) & (f <= band[1])].sum()
    return f, (p / tot if tot > 0 else p * 0.0)


def _local_peak(freqs: np.ndarray, power: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """``(frequency, power)`` of the highest *local maximum* in ``[lo, hi]`` (parabolic interpolation), or NaNs."""
    sel = np.flatnonzero((freqs >= lo) & (freqs <= hi))
    sel = sel[(sel > 0) & (sel < len(power) - 1)]
    sel = sel[(power[sel] >= power[sel - 1]) & (power[sel] >= power[sel + 1]) & (power[sel] > 0)]
    if len(sel) == 0:
        return float("nan"), 0.0
    i = sel[int(np.argmax(power[sel]))]
    return peak_frequency(freqs, power, (freqs[i - 1], freqs[i + 1])), float(power[i])


def harmonic_sum(freqs: np.ndarray, power: np.ndarray, weight: float) -> np.ndarray:
    """``P(f) + weight·P(2f)`` on the same frequency grid (``P(2f) = 0`` beyond the spectrum's end): the
    subharmonic summation of Hermes (1988), which favours a frequency whose double also carries power."""
    if weight <= 0:
        return power
    return power + weight * np.interp(2.0 * freqs, freqs, power, right=0.0)


def harmonic_check(freqs: np.ndarray, power: np.ndarray, band: tuple[float, float], ratio: float,
                   near: tuple[float, float] | None = None, harmonic_weight: float = 0.0) -> float:
    """The pulse frequency of a spectrum: its highest local peak in ``band`` (or in ``near``, clipped to the
    band), moved to the sub-harmonic ``f/2`` when that is inside the band, is itself a local peak, and holds at
    least ``ratio`` of the peak's power (``ratio = 0`` turns the check off). With ``harmonic_weight > 0`` the
    peak is picked on :func:`harmonic_sum` instead of the plain spectrum."""
    power = harmonic_sum(freqs, power, harmonic_weight)
    lo, hi = band if near is None else (max(band[0], near[0]), min(band[1], near[1]))
    f0, p0 = _local_peak(freqs, power, lo, hi)
    if not np.isfinite(f0) or ratio <= 0 or f0 / 2 < band[0]:
        return f0
    fh, ph = _local_peak(freqs, power, f0 / 2 - 0.06, f0 / 2 + 0.06)
    if np.isfinite(fh) and ph >= ratio * p0 and (near is None or near[0] <= fh <= near[1]):
        return fh
    return f0


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cw = np.cumsum(np.asarray(weights, dtype=np.float64)[order])
    return float(np.asarray(values)[order][int(np.searchsorted(cw, 0.5 * cw[-1]))])


def _empty(cfg: HREstimatorConfig, windows: int = 0, reason: str = "signals shorter than 4 s") -> dict:
    return {"hr_bpm": None, "snr_db": None, "reliable": False, "unreliable_reason": reason, "windows": windows,
            "clean_windows": 0, "spread_bpm": None, "region_weights": {}, "method": cfg.method}


def estimate_heart_rate(signals: dict[str, np.ndarray], fs: float, cfg: HREstimatorConfig | None = None) -> dict:
    """Heart rate (bpm) of one face (or skin patch) from the pulse signals of its regions.

    ``signals``: region name -> pulse signal (``(N,)``, already extracted by ``cfg.method`` at rate ``fs``,
    e.g. POS with 1.6 s overlap-add, detrended and band-passed by :func:`extract`), all covering the same span.

    1. Windows of ``cfg.window_s`` every ``cfg.step_s``; per window and region a Welch spectrum
       (:func:`window_spectrum`) and its SNR at its own pulse peak (fundamental + first harmonic,
       :func:`snr_db`, de Haan & Jeanne 2013).
    2. Region fusion by signal quality: the window's spectra summed with weights ``10^(SNR/10)``
       (``"snr"``) or equally.
    3. Per window: the pulse peak of the fused spectrum (or of its harmonic sum, ``cfg.harmonic_weight``) after
       the harmonic check (:func:`harmonic_check`) and the fused SNR; windows under ``cfg.min_snr_db`` are
       rejected.
    4. Tracking: the clean windows' SNR-weighted median, then every window's peak searched again within
       ``cfg.track_bpm`` of it, and the final SNR-weighted median (or the peak of the summed clean spectra).
    5. Reliable only when at least ``cfg.min_clean_share`` of windows are clean and their heart rates agree
       (interquartile range <= ``cfg.max_spread_bpm``, judged before tracking); otherwise ``unreliable_reason`` says why, and the
       heart rate returned is only the best guess of an unreliable signal (reports do not show it).

    Returns ``{"hr_bpm", "snr_db", "reliable", "unreliable_reason", "windows", "clean_windows", "spread_bpm",
    "region_weights", "method"}``; ``hr_bpm`` is ``None`` when the signals are shorter than 4 s.
    """
    cfg = cfg or HREstimatorConfig()
    band = tuple(cfg.band_hz)
    names = [k for k, v in signals.items() if v is not None and len(v)]
    if not names:
        return _empty(cfg, reason="no signal")
    n = min(len(signals[k]) for k in names)
    L = int(round(min(cfg.window_s, n / fs) * fs))
    if L < 4 * fs:
        return _empty(cfg)
    hop = max(1, int(round(cfg.step_s * fs)))
    starts = list(range(0, n - L + 1, hop)) or [0]
    weights = {k: 0.0 for k in names}
    wins = []  # (fused spectrum, its SNR-weighted region count)
    freqs = None
    for s in starts:
        fused = None
        for k in names:
            seg = signals[k][s:s + L]
            if not np.any(seg):
                continue
            freqs, p = window_spectrum(seg, fs, band, cfg.segment_s)
            if cfg.weighting == "equal":
                w = 1.0
            else:
                w = 10 ** (snr_db(freqs, p, harmonic_check(freqs, p, band, cfg.harmonic_ratio), band) / 10)
            fused = w * p if fused is None else fused + w * p
            weights[k] += w
        if fused is not None:
            wins.append(fused / max(fused[(freqs >= band[0]) & (freqs <= band[1])].sum(), _EPS))
    if not wins:
        return _empty(cfg, len(starts), "all signals are zero")

    def pass_(near_hz: float | None):
        f, q = np.empty(len(wins)), np.empty(len(wins))
        for i, p in enumerate(wins):
            nr = None if near_hz is None else (near_hz - cfg.track_bpm / 60, near_hz + cfg.track_bpm / 60)
            f[i] = harmonic_check(freqs, p, band, cfg.harmonic_ratio, nr, cfg.harmonic_weight)
            q[i] = snr_db(freqs, p, f[i], band)
        return f, q

    f, q = pass_(None)
    clean = np.isfinite(f) & (q >= cfg.min_snr_db)
    use = clean if clean.any() else np.isfinite(f)
    if not use.any():
        return _empty(cfg, len(starts), "no spectral peak in the band")

    def combine(f, q, use):
        w = 10 ** (q[use] / 10)
        if cfg.aggregate == "spectrum":
            acc = sum(wi * wins[i] for wi, i in zip(w, np.flatnonzero(use)))
            return harmonic_check(freqs, acc, band, cfg.harmonic_ratio, harmonic_weight=cfg.harmonic_weight)
        return _weighted_median(f[use], w)

    f_hat = combine(f, q, use)
    hr = 60.0 * f[use]  # agreement is judged before tracking, which would hide windows that disagree
    spread = float(np.subtract(*np.percentile(hr, [75, 25]))) if len(hr) else float("nan")
    if cfg.track_bpm > 0 and np.isfinite(f_hat):
        f, q = pass_(f_hat)
        clean = np.isfinite(f) & (q >= cfg.min_snr_db)
        use = clean if clean.any() else np.isfinite(f)
        f_hat = combine(f, q, use) if use.any() else f_hat
    share = float(clean.mean())
    snr = float(np.median(q[use]))
    if share < cfg.min_clean_share:
        reason = (f"only {100 * share:.0f} % of {len(wins)} windows have a pulse SNR of at least "
                  f"{cfg.min_snr_db:g} dB (median {float(np.median(q)):.1f} dB); {100 * cfg.min_clean_share:.0f} % needed")
    elif spread > cfg.max_spread_bpm:
        reason = (f"the clean windows disagree: their heart rates spread over {spread:.0f} bpm (interquartile "
                  f"range; at most {cfg.max_spread_bpm:g} allowed)")
    else:
        reason = None
    tot = sum(weights.values()) or 1.0
    return {"hr_bpm": None if not np.isfinite(f_hat) else round(60.0 * f_hat, 2), "snr_db": round(snr, 2),
            "reliable": reason is None and bool(np.isfinite(f_hat)), "unreliable_reason": reason,
            "windows": len(wins), "clean_windows": int(clean.sum()), "spread_bpm": round(spread, 2),
            "region_weights": {k: round(v / tot, 4) for k, v in weights.items()}, "method": cfg.method}


def pulse_signals(name: str, rgb: np.ndarray, fs: float, method: str) -> dict[str, np.ndarray]:
    """``{name: signal}`` of one uniformly sampled ``(N, 3)`` RGB trace by ``method``, or ``{name/m: signal}`` for
    every method of :data:`METHODS` when ``method`` is ``"all"`` (the keys :func:`estimate_heart_rate` fuses)."""
    if method == "all":
        return {f"{name}/{m}": extract(rgb, fs, m) for m in METHODS}
    return {name: extract(rgb, fs, method)}


def estimate_from_traces(times: dict[str, np.ndarray] | np.ndarray, traces: dict[str, np.ndarray],
                         cfg: HREstimatorConfig | None = None, fs: float = FS) -> dict:
    """:func:`estimate_heart_rate` from raw mean-colour traces (``region -> (N, 3)`` RGB) at ``times``.

    ``times`` is one array for all regions or a dict per region; traces are resampled to ``fs`` and cut
    to their common span first.
    """
    cfg = cfg or HREstimatorConfig()
    tdict = times if isinstance(times, dict) else {k: times for k in traces}
    t0 = max(float(tdict[k][0]) for k in traces)
    t1 = min(float(tdict[k][-1]) for k in traces)
    sig = {}
    for k, rgb in traces.items():
        t = np.asarray(tdict[k], dtype=np.float64)
        keep = (t >= t0 - 1e-9) & (t <= t1 + 1e-9)
        if keep.sum() < 8:
            continue
        _, u = resample_uniform(t[keep], np.asarray(rgb, dtype=np.float64)[keep], fs)
        sig.update(pulse_signals(k, u, fs, cfg.method))
    n = min((len(v) for v in sig.values()), default=0)
    return estimate_heart_rate({k: v[:n] for k, v in sig.items()}, fs, cfg)
