"""Report figures for the blink detector: timeline, comparison with human norms, eye crops at blinks."""

from __future__ import annotations

import numpy as np

from forensics.api import Artifact, figure, figure_artifact

from .analysis import TrackResult
from .blinks import MAX_BLINK_S, MIN_BLINK_S, NORMS, P_THRESHOLD, poisson_rate_interval

C_EAR, C_LRCN, C_CNN, C_BLINK, C_LONG, C_HIDDEN = "#1f77b4", "#d62728", "#999999", "#ff7f0e", "#9467bd", "#cccccc"


def _spans(ax, blinks, color, alpha, label=None):
    for i, b in enumerate(blinks):
        ax.axvspan(b.start_s, b.end_s, color=color, alpha=alpha, lw=0, label=label if i == 0 else None)


def timeline(res: TrackResult, title: str) -> Artifact:
    """EAR and LRCN eye state over time, with blinks marked (LRCN: shaded; EAR: triangles)."""
    s = res.signals
    t = s.times - (s.times[0] if len(s) else 0.0)
    t0 = float(s.times[0]) if len(s) else 0.0
    fig = figure(7.5, 4.6)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    hidden = ~s.visible
    for ax in (ax1, ax2):
        if hidden.any():
            for i in np.flatnonzero(hidden):
                ax.axvspan(t[i], t[i] + 1.0 / res.fps, color=C_HIDDEN, alpha=0.6, lw=0)
        if res.lrcn is not None:
            _spans(ax, res.lrcn.blinks, C_BLINK, 0.3, "LRCN blink" if ax is ax2 else None)
            _spans(ax, res.lrcn.long_closures, C_LONG, 0.2, "long closure (not a blink)" if ax is ax2 else None)
    ax1.plot(t, s.ear, color=C_EAR, lw=1.0, label="EAR (mean of both eyes)")
    ax1.axhline(res.ear.threshold, color=C_EAR, ls="--", lw=0.8, label=f"EAR threshold {res.ear.threshold:.3f}")
    if res.ear.blinks:
        mids = [b.mid_s for b in res.ear.blinks]
        lo = np.nanmin(s.ear) if np.isfinite(s.ear).any() else 0.0
        ax1.plot(mids, [lo] * len(mids), "^", color=C_EAR, ms=6, label=f"EAR blinks ({res.ear.count})")
    ax1.set_ylabel("eye aspect ratio")
    ax1.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=7, ncol=3, frameon=False)
    if res.p_lrcn is not None:
        ax2.plot(t, res.p_cnn, color=C_CNN, lw=0.7, label="CNN only (per frame)")
        ax2.plot(t, res.p_lrcn, color=C_LRCN, lw=1.2, label="LRCN P(eye closed)")
        ax2.axhline(P_THRESHOLD, color=C_LRCN, ls="--", lw=0.8)
        ax2.set_ylim(-0.03, 1.03)
        ax2.set_ylabel("P(closed)")
        ax2.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=7, ncol=4, frameon=False)
    else:
        ax2.text(0.5, 0.5, "LRCN model unavailable: EAR baseline only", ha="center", va="center",
                 transform=ax2.transAxes)
    ax2.set_xlabel(f"time in the track (s; track starts at {t0:.2f} s of the video)")
    fig.suptitle(title, fontsize=9, x=0.01, ha="left")
    cap = ("Top: eye aspect ratio (Soukupová & Čech 2016) from the 68 landmarks, with the per-track threshold; "
           "triangles are EAR blinks. Bottom: per-frame P(eye closed) from the LRCN (red) and from its CNN alone "
           f"(grey). Orange bands: blinks counted (closed {MIN_BLINK_S * 1000:.0f}–{MAX_BLINK_S * 1000:.0f} ms); purple: "
           "longer closures (not counted); grey: "
           "frames where the eyes could not be seen.")
    return figure_artifact(fig, f"Blink timeline, face track {s.track_id}", caption=cap,
                           slug=f"blink-timeline-{s.track_id}")


def norms_chart(res: TrackResult) -> Artifact:
    """Measured blink rates (with exact Poisson 95 % intervals) against human norms."""
    fig = figure(7.5, 1.9)
    ax = fig.subplots()
    rows = []
    if res.lrcn is not None:
        rows.append(("LRCN", res.lrcn, C_LRCN))
    rows.append(("EAR", res.ear, C_EAR))
    hi_all = 30.0
    for y, (name, st, color) in enumerate(rows):
        lo, hi = poisson_rate_interval(st.count, st.duration_s)
        rate = st.rate_per_min
        if np.isfinite(hi):
            hi_all = max(hi_all, hi)
            ax.plot([lo, hi], [y, y], color=color, lw=2, alpha=0.6)
        if np.isfinite(rate):
            ax.plot([rate], [y], "o", color=color)
        ax.text(0.5, y + 0.22, f"{name}: {st.count} blink{'' if st.count == 1 else 's'} in {st.duration_s:.1f} s "
                f"= {rate:.1f}/min", fontsize=7, color=color)
    for v, lab in ((NORMS["rate_reading_per_min"], "reading 4.5"), (NORMS["rate_rest_per_min"], "rest 17"),
                   (NORMS["rate_conversation_per_min"], "conversation 26")):
        ax.axvline(v, color="#2ca02c", ls=":", lw=1)
        ax.text(v, len(rows) - 0.35, lab, fontsize=7, color="#2ca02c", ha="center")
    ax.set_xlim(0, min(hi_all * 1.05, 120))
    ax.set_ylim(-0.6, len(rows))
    ax.set_yticks([])
    ax.set_xlabel("blinks per minute (bar: exact Poisson 95 % interval)")
    cap = (f"Human spontaneous blink rate (green): {NORMS['rate_source']}. A short clip holds few blinks, so the "
           "interval is wide: a rate is only unusual when its whole interval lies below the norms.")
    return figure_artifact(fig, f"Blink rate vs human norms, face track {res.signals.track_id}", caption=cap,
                           slug=f"blink-norms-{res.signals.track_id}")


def eye_strip(res: TrackResult, max_blinks: int = 6) -> Artifact | None:
    """Eye crops the network saw: at each counted blink's most-closed frame, and two open reference frames."""
    s = res.signals
    if res.p_lrcn is None or not len(s):
        return None
    p = np.nan_to_num(res.p_lrcn, nan=-1.0)
    picks: list[tuple[int, str]] = []
    for b in res.lrcn.blinks[:max_blinks]:
        i = b.start + int(np.argmax(p[b.start:b.end + 1]))
        picks.append((i, "blink"))
    open_frames = np.flatnonzero((p >= 0) & (p < 0.2))
    for i in open_frames[np.linspace(0, len(open_frames) - 1, num=min(2, len(open_frames))).astype(int)] if len(open_frames) else []:
        picks.append((int(i), "open"))
    if not picks:
        return None
    fig = figure(min(7.5, 1.05 * len(picks) + 0.4), 1.9)
    axes = np.atleast_1d(fig.subplots(1, len(picks)))
    for ax, (i, kind) in zip(axes, picks):
        ax.imshow(np.concatenate([s.crops[i, 0], s.crops[i, 1]], axis=0), cmap="gray", vmin=0, vmax=255,
                  interpolation="nearest")
        ax.set_title(f"{kind} {s.times[i]:.2f} s\nP={res.p_lrcn[i]:.2f}", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    cap = ("The 32×32 grey eye crops (image-left eye on top) at the most-closed frame of each counted blink, and at "
           "two frames read as open: check that the blinks are real eyelid closures, not artefacts.")
    return figure_artifact(fig, f"Eye crops at blinks, face track {s.track_id}", caption=cap,
                           slug=f"blink-eyes-{s.track_id}")
