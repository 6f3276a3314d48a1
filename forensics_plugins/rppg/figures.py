"""Report figures of the rPPG detector: region map, signals, spectra, consistency."""

from __future__ import annotations

import numpy as np

from forensics.api import Artifact, figure, figure_artifact

from . import signals as S
from .features import TrackSignals, WindowResult, coherence_at
from .regions import GRID, _grid_edges, overlay

COLOURS = {"forehead": "#d4a000", "left_cheek": "#0090d0", "right_cheek": "#d000a0", "left_face": "#20a020",
           "right_face": "#909000", "mid_face": "#e04040"}
METHOD_COLOURS = {"chrom": "#1f5fbf", "pos": "#c0392b", "green": "#2e8b57"}
BPM_RANGE = (40, 240)


def region_map(crop: np.ndarray, landmarks: np.ndarray) -> Artifact:
    """The aligned face crop with the six regions tinted and the PPG-map grid drawn."""
    import cv2

    img = overlay(crop, landmarks)
    ys, xs = _grid_edges(crop.shape[:2], np.asarray(landmarks, dtype=np.float64), GRID)
    for y in ys:
        cv2.line(img, (int(xs[0]), int(y)), (int(xs[-1]), int(y)), (255, 255, 255), 1)
    for x in xs:
        cv2.line(img, (int(x), int(ys[0])), (int(x), int(ys[-1])), (255, 255, 255), 1)
    img = cv2.resize(img, (img.shape[1] * 2, img.shape[0] * 2), interpolation=cv2.INTER_NEAREST)
    return Artifact.from_array(
        "rPPG skin regions", img, slug="rppg-regions",
        caption="Aligned face crop from the middle of the track. Tinted: forehead (amber), left/right cheek "
                "(blue/magenta), FakeCatcher's left/right/mid face regions (green/olive/red); eyes, brows and "
                "mouth are excluded. White grid: the 4×4 PPG-map cells (cells with too little skin are unused).")


def whole_track_hr(ts: TrackSignals) -> dict[str, dict]:
    """Per method: heart rate (bpm) of the mean normalised spectrum over regions, and per-region HR/SNR."""
    out = {}
    for m in S.METHODS:
        acc, f = None, None
        reg = {}
        for name, row in zip(ts.regions, ts.signals[m]):
            f, p = S.spectrum(row, ts.fs)
            f0 = S.peak_frequency(f, p)
            reg[name] = {"hr_bpm": round(60 * f0, 1) if np.isfinite(f0) else None, "snr_db": round(S.snr_db(f, p, f0), 2)}
            tot = p.sum()
            if tot > 0:
                acc = p / tot if acc is None else acc + p / tot
        if acc is None:
            out[m] = {"hr_bpm": None, "snr_db": None, "regions": reg}
            continue
        f0 = S.peak_frequency(f, acc)
        out[m] = {"hr_bpm": round(60 * f0, 1) if np.isfinite(f0) else None, "snr_db": round(S.snr_db(f, acc, f0), 2),
                  "regions": reg}
    return out


def signals_figure(ts: TrackSignals, hr: dict[str, dict], title_note: str = "") -> Artifact:
    fig = figure(7.5, 4.6)
    ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    t = ts.times - ts.times[0]
    for k, (name, row) in enumerate(zip(ts.regions, ts.signals["chrom"])):
        ax1.plot(t, row - 3.2 * k, lw=0.9, color=COLOURS.get(name, "k"))
        ax1.text(t[-1] + 0.02 * (t[-1] - t[0] + 1e-9), -3.2 * k, name.replace("_", " "), va="center", fontsize=7,
                 color=COLOURS.get(name, "k"))
    ax1.set_yticks([])
    chrom_hr = hr["chrom"]["hr_bpm"]
    ax1.set_title(f"CHROM pulse signal per region (band-passed 0.7–4 Hz, unit variance){title_note}"
                  + (f" — CHROM spectral peak {chrom_hr:.0f} bpm" if chrom_hr else ""), fontsize=9)
    for m in S.METHODS:
        avg = ts.signals[m].mean(axis=0) if len(ts.signals[m]) else np.zeros_like(t)
        sd = avg.std()
        ax2.plot(t, avg / sd if sd > 0 else avg, lw=0.9, color=METHOD_COLOURS[m],
                 label=f"{m.upper()} ({hr[m]['hr_bpm']:.0f} bpm)" if hr[m]["hr_bpm"] else m.upper())
    ax2.set_xlabel("time in track (s)")
    ax2.set_yticks([])
    ax2.set_title("Average over regions, by method", fontsize=9)
    ax2.legend(fontsize=7, loc="upper right", ncol=3)
    return figure_artifact(fig, "rPPG signals per region", slug="rppg-signals",
                           caption="Pulse signals extracted from the mean skin colour of each region. A real face "
                                   "shows the same quasi-periodic beat in every region and with every method; "
                                   "noise, or regions that do not follow each other, lower the consistency features.")


def spectra_figure(ts: TrackSignals, hr: dict[str, dict]) -> Artifact:
    fig = figure(7.5, 2.8)
    axes = fig.subplots(1, 3, sharey=True)
    for ax, m in zip(axes, S.METHODS):
        acc = None
        for name, row in zip(ts.regions, ts.signals[m]):
            f, p = S.spectrum(row, ts.fs)
            p = p / p.sum() if p.sum() > 0 else p
            sel = (f * 60 >= BPM_RANGE[0]) & (f * 60 <= BPM_RANGE[1])
            ax.plot(f[sel] * 60, p[sel] / max(p[sel].max(), 1e-12), lw=0.7, alpha=0.7, color=COLOURS.get(name, "grey"))
            acc = p if acc is None else acc + p
        if acc is not None:
            ax.plot(f[sel] * 60, acc[sel] / max(acc[sel].max(), 1e-12), lw=1.8, color="black", label="mean")
        h = hr[m]["hr_bpm"]
        if h:
            ax.axvline(h, color=METHOD_COLOURS[m], ls="--", lw=1.2)
            ax.set_title(f"{m.upper()}: peak {h:.0f} bpm, SNR {hr[m]['snr_db']:.1f} dB", fontsize=8)
        else:
            ax.set_title(m.upper(), fontsize=8)
        ax.set_xlabel("bpm", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("power (peak = 1)", fontsize=8)
    return figure_artifact(fig, "rPPG spectra and heart rate", slug="rppg-spectra",
                           caption="Power spectra of each region's signal (thin, region colours) and their mean "
                                   "(black); the dashed line is the highest peak (not a heart-rate estimate: see the "
                                   "finding's heart-rate sentence). One sharp common peak "
                                   "at a plausible rate (45–150 bpm at rest) is what a live face gives.")


def coherence_matrix(ts: TrackSignals, f0_hz: float) -> np.ndarray:
    x = ts.signals["chrom"]
    n = len(ts.regions)
    c = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            c[i, j] = c[j, i] = coherence_at(x[i], x[j], ts.fs, f0_hz)
    return c


def consistency_figure(ts: TrackSignals, windows: list[WindowResult], hr: dict[str, dict],
                       window_prob: list[float] | None, features: tuple[str, ...]) -> Artifact:
    fig = figure(7.5, 3.4)
    if windows:
        ax1, ax2, ax3 = fig.subplots(1, 3, width_ratios=[2.2, 2.2, 1.6])
        centres = [w.start_s + 2.5 for w in windows]
        for m in S.METHODS:
            ax1.plot(centres, [w.hr_bpm[m] for w in windows], "o-", ms=3, lw=1, color=METHOD_COLOURS[m],
                     label=m.upper())
        ax1.set_title("Heart rate per 5 s window", fontsize=8)
        ax1.set_xlabel("window centre (s)", fontsize=8)
        ax1.set_ylabel("bpm", fontsize=8)
        ax1.legend(fontsize=6)
        fi = {k: i for i, k in enumerate(features)}
        ax2.plot(centres, [w.features[fi["chrom_pair_corr"]] for w in windows], "o-", ms=3, lw=1,
                 label="pair correlation")
        ax2.plot(centres, [w.features[fi["coherence_mean"]] for w in windows], "s-", ms=3, lw=1,
                 label="coherence at HR")
        ax2.plot(centres, [w.features[fi["map_hr_agreement"]] for w in windows], "^-", ms=3, lw=1,
                 label="PPG-map HR agreement")
        if window_prob is not None:
            ax2.plot(centres, window_prob, "k--", lw=1.2, label="P(fake) of window")
        ax2.set_ylim(-0.35, 1.05)
        ax2.set_title("Spatial consistency per window", fontsize=8)
        ax2.set_xlabel("window centre (s)", fontsize=8)
        ax2.legend(fontsize=6, loc="lower left")
        for a in (ax1, ax2):
            a.tick_params(labelsize=7)
    else:
        ax3 = fig.subplots(1, 1)
    f0 = (hr["chrom"]["hr_bpm"] or 0) / 60.0
    c = coherence_matrix(ts, f0) if f0 > 0 else np.eye(len(ts.regions))
    im = ax3.imshow(c, vmin=0, vmax=1, cmap="viridis")
    labels = [r.replace("_cheek", " ch.").replace("_face", " face") for r in ts.regions]
    ax3.set_xticks(range(len(labels)), labels, rotation=60, fontsize=6)
    ax3.set_yticks(range(len(labels)), labels, fontsize=6)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax3.text(j, i, f"{c[i, j]:.2f}", ha="center", va="center", fontsize=5,
                     color="white" if c[i, j] < 0.6 else "black")
    ax3.set_title("Coherence at HR (whole track)", fontsize=8)
    fig.colorbar(im, ax=ax3, shrink=0.7)
    return figure_artifact(fig, "rPPG spatial and temporal consistency", slug="rppg-consistency",
                           caption="Left: heart rate of each 5 s window by each method (temporal consistency and "
                                   "method agreement). Middle: the spatial-consistency features that the SVM weighs "
                                   "most directly, with each window's probability. Right: magnitude-squared "
                                   "coherence of the CHROM signals between regions at the heart rate.")
