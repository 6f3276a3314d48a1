"""Where in a video: per-segment fusion of time-resolved detector scores, and the item verdict's segment rule.

Time-resolved scores (a convention for ``Finding.details``)
-----------------------------------------------------------
A detector that scores parts of a video puts them in its finding's ``details``:

* ``"frame_scores": [[time_s, p], ...]`` or ``[[time_s, p, track_id], ...]`` -- one P(manipulated) per
  scored frame (FWA);
* ``"window_scores": [[start_s, end_s, p], ...]`` or ``[[start_s, end_s, p, track_id], ...]`` -- one per
  analysed window (rPPG, sequence models);

and, read for compatibility, FWA 1.0's ``"faces": [{"track_id", "frame_indices", "probabilities"}, ...]``
(frame index / fps = time).

Timeline rule (``segment-logodds-auc/1``)
----------------------------------------
* The video is cut into segments of :data:`SEGMENT_S` seconds (longer videos: the smallest multiple of
  5 s giving at most :data:`MAX_SEGMENTS` segments).
* A detector's segment probability is, per face track, the mean of its scores that fall in the segment
  (a window counts in every segment it overlaps), then the maximum over tracks -- the same mean-then-max
  shape as FWA's item rule.
* Only detectors whose item-level finding *ran* (scored) take part. The segment's fused probability is
  the fallback fusion rule (:func:`forensics.fusion.fuse_fallback`): log-odds weighted by
  ``max(0, 2·AUC − 1)`` from each detector's card. No weighted detector in a segment: no fused value.
* Each segment also says how much of it the face pipeline could not use (the coverage gaps).

Item verdict (``max-segment/1``)
--------------------------------
A short manipulated part inside a long authentic video makes a manipulated video. The item's fused
probability becomes ``max(item probability, highest segment probability)``, counting only segments whose
fused value rests on at least :data:`MIN_SCORES` scores; the label follows the fusion thresholds. The
verdict keeps the item rule's result (``item_probability``) and names the segment. The error rate printed
with the verdict was measured for the item rule; the segment maximum over many segments has a higher
false-alarm rate, which has not been measured.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from forensics import fusion
from forensics.detector import Artifact, Finding, Status

SEGMENT_S = 5.0
MAX_SEGMENTS = 240
MIN_SCORES = 3  # frame scores (a window counts as MIN_SCORES) behind a segment before it can raise the verdict
METHOD = "segment-logodds-auc/1"
VERDICT_RULE = "max-segment/1"
MAX_THUMBNAILS = 4
THUMB_SIDE = 112


def segment_length(duration_s: float) -> float:
    """:data:`SEGMENT_S`, or the smallest multiple of it giving at most :data:`MAX_SEGMENTS` segments."""
    if duration_s <= 0:
        return SEGMENT_S
    return SEGMENT_S * max(1, math.ceil(duration_s / (SEGMENT_S * MAX_SEGMENTS)))


def time_scores(finding: Finding, fps: float | None = None) -> list[tuple[float, float, float, int, int]]:
    """``(start_s, end_s, p, track, weight)`` for every time-resolved score in a finding's details.

    ``end_s == start_s`` for a frame score; ``weight`` is 1 for a frame and :data:`MIN_SCORES` for a window.
    """
    d = finding.details or {}
    out: list[tuple[float, float, float, int, int]] = []
    for row in d.get("frame_scores") or []:
        try:
            t, p = float(row[0]), float(row[1])
            tr = int(row[2]) if len(row) > 2 and row[2] is not None else 0
        except (TypeError, ValueError, IndexError):
            continue
        if math.isfinite(t) and 0.0 <= p <= 1.0:
            out.append((t, t, p, tr, 1))
    for row in d.get("window_scores") or []:
        try:
            a, b, p = float(row[0]), float(row[1]), float(row[2])
            tr = int(row[3]) if len(row) > 3 and row[3] is not None else 0
        except (TypeError, ValueError, IndexError):
            continue
        if math.isfinite(a) and math.isfinite(b) and b >= a and 0.0 <= p <= 1.0:
            out.append((a, b, p, tr, MIN_SCORES))
    if not out and fps and isinstance(d.get("faces"), list):  # FWA 1.0: frame indices per face
        for face in d["faces"]:
            if not isinstance(face, dict):
                continue
            idx, probs = face.get("frame_indices") or [], face.get("probabilities") or []
            times = face.get("times") or [i / fps for i in idx]
            for t, p in zip(times, probs):
                try:
                    t, p = float(t), float(p)
                except (TypeError, ValueError):
                    continue
                if 0.0 <= p <= 1.0:
                    out.append((t, t, p, int(face.get("track_id") or 0), 1))
    return out


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def build(findings: Iterable[Finding], duration_s: float | None, coverage: dict[str, Any] | None = None,
          fps: float | None = None) -> list[dict[str, Any]]:
    """The per-segment timeline of one video item (see the module docstring for the rule)."""
    findings = [f for f in findings if f.status is Status.RAN]
    scored = {f.detector: (f, time_scores(f, fps)) for f in findings}
    scored = {k: v for k, v in scored.items() if v[1]}
    duration = float(duration_s or (coverage or {}).get("duration_s") or 0.0)
    if duration <= 0:
        ends = [s[1] for _, sc in scored.values() for s in sc]
        duration = max(ends, default=0.0)
    if duration <= 0:
        return []
    seg = segment_length(duration)
    gaps = (coverage or {}).get("gaps") or []
    out = []
    n = max(1, math.ceil(duration / seg - 1e-9))
    for k in range(n):
        a, b = k * seg, min((k + 1) * seg, duration)
        last = k == n - 1
        per_det: dict[str, Any] = {}
        pseudo = []
        support = 0
        for name, (f, sc) in sorted(scored.items()):
            by_track: dict[int, list[float]] = {}
            weight = 0
            for s0, s1, p, tr, w in sc:
                inside = (a <= s0 < b or (last and s0 == b)) if s1 == s0 else _overlap(s0, s1, a, b) > 0
                if inside:
                    by_track.setdefault(tr, []).append(p)
                    weight += w
            if not by_track:
                continue
            p_det = max(float(np.mean(v)) for v in by_track.values())
            per_det[name] = {"probability": round(p_det, 6), "scores": sum(len(v) for v in by_track.values()),
                             "weight": round(fusion.weight_for(f), 6)}
            pseudo.append(Finding(detector=name, version=f.version, status=Status.RAN, probability=p_det,
                                  error_rate=f.error_rate))
            if fusion.weight_for(f) > 0:
                support += weight
        fused = fusion.fuse_fallback(pseudo)["probability"] if pseudo else None
        gap_reasons = sorted({g[2] for g in gaps if _overlap(float(g[0]), float(g[1]), a, b) > 1e-6})
        gap_s = sum(_overlap(float(g[0]), float(g[1]), a, b) for g in gaps)
        out.append({"start_s": round(a, 3), "end_s": round(b, 3),
                    "probability": None if fused is None else round(float(fused), 6),
                    "label": fusion.label_for(fused), "support": support, "detectors": per_det,
                    "gap_s": round(min(gap_s, b - a), 3), "gaps": gap_reasons})
    return out


def describe() -> dict[str, Any]:
    """The timeline and verdict rules, for the findings document."""
    return {"segment_s": SEGMENT_S, "max_segments": MAX_SEGMENTS, "method": METHOD, "verdict_rule": VERDICT_RULE,
            "min_scores": MIN_SCORES, "doc": (__doc__ or "").strip()}


def most_suspicious(timeline: list[dict[str, Any]], min_scores: int = MIN_SCORES) -> dict[str, Any] | None:
    """The segment with the highest fused probability among those resting on ``min_scores`` scores or more."""
    cands = [s for s in timeline if s.get("probability") is not None and s.get("support", 0) >= min_scores]
    if not cands:
        return None
    return max(cands, key=lambda s: (s["probability"], -s["start_s"]))


def apply_to_verdict(verdict: dict[str, Any] | None, timeline: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The item verdict with the ``max-segment/1`` rule applied (in place; returns it). See the module docstring."""
    if verdict is None or not timeline:
        return verdict
    seg = most_suspicious(timeline)
    item_p = verdict.get("probability")
    info: dict[str, Any] = {"rule": VERDICT_RULE, "segment_rule": METHOD, "item_probability": item_p,
                            "segment_s": segment_length(timeline[-1]["end_s"]), "applied": False}
    if seg is not None:
        info["most_suspicious_segment"] = {k: seg[k] for k in ("start_s", "end_s", "probability", "detectors")}
        if item_p is None or seg["probability"] > item_p:
            thr = verdict.get("thresholds") or {}
            low = float(thr.get("likely_authentic_below", fusion.LOW))
            high = float(thr.get("likely_manipulated_above", fusion.HIGH))
            p = float(seg["probability"])
            lr_item = verdict.get("likelihood_ratio")
            if isinstance(lr_item, dict) and hasattr(fusion, "likelihood_ratio"):
                # the segment's LR, clipped to the same empirical bounds; a segment maximum has no interval
                bounds = tuple(lr_item["bounds"]) if lr_item.get("bounds") else None
                lr = fusion.likelihood_ratio(p, bounds)
                lr["interval_note"] = "segment maximum (max-segment/1): no interval has been measured"
                info["item_likelihood_ratio"] = lr_item
                verdict["likelihood_ratio"] = lr
                if lr.get("clipped_to_bounds"):
                    verdict["probability_uncapped"] = round(p, 6)
                    p = lr["lr"] / (1.0 + lr["lr"])
            verdict["probability"] = round(p, 6)
            verdict["label"] = fusion.label_for(p, low, high)
            verdict["reason"] = ""
            info["applied"] = True
            info["why"] = (f"segment {seg['start_s']:g}–{seg['end_s']:g} s is more suspicious "
                           f"({seg['probability']:.3f}) than the item as a whole "
                           + ("(no item-level decision)" if item_p is None else f"({item_p:.3f})")
                           + "; its error rate as a maximum over segments has not been measured")
    verdict["timeline"] = info
    return verdict


def for_item(media: Any, findings: list[Finding]) -> tuple[dict[str, Any] | None, list[dict[str, Any]],
                                                            list[Artifact]]:
    """``(coverage, timeline, artifacts)`` of one analysed video item (``(None, [], [])`` for other kinds).

    Reads what the detectors' run left on ``media`` (the shared face analysis and its coverage record);
    never decodes anything itself.
    """
    from forensics.faces.pipeline import peek_shared

    if media.item.kind != "video":
        return None, [], []
    info = media.video_info()
    coverage = peek_shared(media, "coverage")
    if coverage is None:
        d = float(info.duration_s or 0.0)
        coverage = {"duration_s": round(d, 3), "analysed_s": 0.0, "face_s": 0.0, "frames_decoded": 0,
                    "frames_expected": info.frame_count, "frames_sampled": 0,
                    "gaps": [[0.0, round(d, 3), "not analysed: no selected detector reads the video's frames"]]
                    if d > 0 else []}
    tl = build(findings, coverage.get("duration_s") or info.duration_s, coverage, info.fps)
    fa = peek_shared(media, "faces")
    return coverage, tl, artifacts(tl, coverage, findings, info.fps, fa)


# ------------------------------------------------------------------------------ figures
def artifacts(timeline: list[dict[str, Any]], coverage: dict[str, Any] | None, findings: Iterable[Finding],
              fps: float | None = None, face_analysis: Any = None) -> list[Artifact]:
    """The timeline plot (per detector and fused, gaps shaded) and thumbnails of the most suspicious segment."""
    if not timeline:
        return []
    arts = [_plot(timeline, coverage, findings, fps)]
    seg = most_suspicious(timeline)
    if seg is not None and face_analysis is not None:
        thumb = _thumbnails(seg, face_analysis)
        if thumb is not None:
            arts.append(thumb)
    return arts


def _plot(timeline, coverage, findings, fps) -> Artifact:
    from forensics.plots import figure, figure_artifact

    fig = figure(7.5, 2.8)
    ax = fig.add_subplot(1, 1, 1)
    end = timeline[-1]["end_s"]
    colours = {"no face": "#bbbbbb", "no frame: the stream starts later": "#dddddd"}
    shaded = set()
    for a, b, why in (coverage or {}).get("gaps") or []:
        key = why if why in colours else "decode error"
        label = None if key in shaded else f"gap: {key}"
        shaded.add(key)
        ax.axvspan(float(a), float(b), color=colours.get(key, "#f4a6a6"), alpha=0.6, lw=0, label=label)
    xs, ys = [], []
    for s in timeline:
        xs += [s["start_s"], s["end_s"]]
        ys += [np.nan if s["probability"] is None else s["probability"]] * 2
    ax.plot(xs, ys, color="black", linewidth=3.0, alpha=0.75, label="fused")  # under the detector lines
    names = sorted({n for s in timeline for n in s["detectors"]})
    cmap = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    ran = {f.detector: f for f in findings if f.status is Status.RAN}
    for i, name in enumerate(names):
        c = cmap[i % len(cmap)]
        if name in ran:  # the raw time-resolved scores, faint
            pts = [(s[0], s[2]) for s in time_scores(ran[name], fps) if s[0] == s[1]]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], ".", color=c, alpha=0.25, markersize=3)
        xs, ys = [], []
        for s in timeline:
            v = s["detectors"].get(name, {}).get("probability")
            xs += [s["start_s"], s["end_s"]]
            ys += [np.nan if v is None else v] * 2
        weighted = name in ran and fusion.weight_for(ran[name]) > 0
        ax.plot(xs, ys, color=c, linewidth=1.2, label=name + ("" if weighted else " (no weight)"))
    seg = most_suspicious(timeline)
    if seg is not None:
        ax.axvspan(seg["start_s"], seg["end_s"], fill=False, edgecolor="#a4161a", linewidth=1.5, hatch="//",
                   label="most suspicious")
    for y in (fusion.LOW, fusion.HIGH):
        ax.axhline(y, color="grey", linewidth=0.7, linestyle="--")
    ax.set_xlim(0, end)
    ax.set_ylim(0, 1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("P(manipulated)")
    ax.legend(loc="upper left", fontsize=6.5, ncol=4, framealpha=0.8)
    seg_s = segment_length(end)
    return figure_artifact(fig, "Timeline: where in the video", slug="timeline", caption=(
        f"Per-segment P(manipulated) ({seg_s:g} s segments): coloured lines per detector (mean of its scores in "
        "the segment per face, highest face), dots the raw per-frame scores, black the fused segment value "
        "(AUC-weighted log-odds). Shaded: intervals the face pipeline could not use (grey: no face; red: decode "
        "error). Dashed lines: the 30 % / 70 % verdict thresholds."))


def _thumbnails(seg: dict[str, Any], fa: Any) -> Artifact | None:
    import cv2

    obs = [o for t in getattr(fa, "video_tracks", None) or fa.tracks for o in t.observations
           if o.crop is not None and seg["start_s"] <= o.time_s < seg["end_s"]]
    if not obs:
        return None
    obs.sort(key=lambda o: (o.time_s, o.box[0]))
    idx = np.unique(np.round(np.linspace(0, len(obs) - 1, min(MAX_THUMBNAILS, len(obs)))).astype(int))
    tiles = []
    for i in idx:
        tiles.append(cv2.resize(np.asarray(obs[i].crop), (THUMB_SIDE, THUMB_SIDE), interpolation=cv2.INTER_AREA))
        tiles.append(np.full((THUMB_SIDE, 3, 3), 255, np.uint8))
    strip = np.concatenate(tiles[:-1], axis=1)
    times = ", ".join(f"{obs[i].time_s:.2f} s" for i in idx)
    return Artifact.from_array(
        f"Most suspicious segment {seg['start_s']:g}–{seg['end_s']:g} s", strip, slug="timeline-thumbs",
        caption=(f"Aligned face crops from the segment with the highest fused probability "
                 f"({100 * seg['probability']:.1f} %), at {times}."))
