"""Eye-blink detector: LRCN eye state with an EAR baseline (Li, Chang & Lyu 2018).

For every face track of a video (shared face pipeline, :mod:`forensics.faces`):
both eyes are cut out of the aligned face, an LRCN (small CNN per frame → LSTM)
gives P(eye closed) per frame and the eye aspect ratio (Soukupová & Čech 2016) is
computed as an interpretable baseline. Blinks are counted with one stated rule
(:mod:`.blinks`), compared with human norms, and the shortage of blinks is turned
into a probability by a calibration fitted on labelled videos (slope constrained to the
method's hypothesis, so the sign comes from data). The detector votes only when the card's
AUC has a 95 % interval that excludes 0.5; otherwise it is inconclusive with that figure.

Still images are not applicable; clips with less than 10 s of visible eyes are
inconclusive; faces whose eyes cannot be seen (profile, dark glasses) are said so.
"""

from __future__ import annotations

import json

from forensics.api import Detector, Finding, ModelUnavailable, hookimpl

from .analysis import Calibrator, TrackResult, face_signals, judge_track, video_score
from .blinks import (
    EAR_ABS_THRESHOLD,
    EAR_REL_THRESHOLD,
    MAX_BLINK_S,
    MERGE_GAP_FRAMES,
    MIN_BLINK_S,
    MIN_CLIP_S,
    MIN_FPS,
    NORMS,
    P_THRESHOLD,
)

MAX_PLOTTED_TRACKS = 3


def _load_model(path):
    """Build the LRCN from hash-checked weights (cached by :meth:`ModelCard.load`)."""
    from .lrcn import load_weights

    return load_weights(str(path))


def blink_rule() -> dict:
    return {
        "lrcn_closed": f"P(closed) >= {P_THRESHOLD}",
        "ear_closed": f"EAR < min({EAR_ABS_THRESHOLD}, {EAR_REL_THRESHOLD} x track median EAR)",
        "merge_gap_frames": MERGE_GAP_FRAMES,
        "blink_duration_s": [MIN_BLINK_S, MAX_BLINK_S],
        "min_visible_eyes_s": MIN_CLIP_S,
        "min_fps": MIN_FPS,
    }


class BlinkDetector(Detector):
    name = "blink_lrcn"
    version = "1.2.0"
    media_kinds = ("video",)
    model_name = "blink_lrcn"
    description = ("Eye blinking: counts blinks per face with an LRCN eye-state network and the eye aspect ratio, "
                   "and compares the blink rate with human norms.")
    method = ("Y. Li, M.-C. Chang, S. Lyu, 'In Ictu Oculi: Exposing AI Created Fake Videos by Detecting Eye Blinking', "
              "IEEE WIFS 2018 (LRCN eye state); baseline: T. Soukupová, J. Čech, 'Real-Time Eye Blink Detection using "
              "Facial Landmarks', CVWW 2016 (eye aspect ratio). Blink-rate norms: Bentivoglio et al., Movement "
              "Disorders 1997.")

    def not_applicable_reason(self, item) -> str | None:
        if item.kind == "image":
            return "blinking needs a sequence of frames; this item is a still image"
        return super().not_applicable_reason(item)

    def analyze(self, item, media) -> Finding:
        from forensics.api import face_analysis

        fa = face_analysis(media)  # NoFaceError -> "not applicable" (engine)
        if fa.is_image or fa.frames_sampled < 2:
            return self.not_applicable("blinking needs a sequence of frames; only one frame could be analysed")

        card = model = cal = None
        problem = ""
        try:
            card = self.model_card()
            model = card.load("weights", _load_model)
            cal_json = json.loads(card.path("calibrator").read_text(encoding="utf-8"))
            cal = Calibrator.from_json(cal_json) if cal_json.get("calibrated") else None
        except (ModelUnavailable, OSError, ValueError, KeyError) as exc:
            problem = str(exc)
            card = model = None

        results = [judge_track(s, fa.fps, model) for s in face_signals(fa)]
        score, best = video_score(results)
        plotted = self._plotted(results, best)
        artifacts = []
        from .figures import eye_strip, norms_chart, timeline

        for r in plotted:
            artifacts.append(timeline(r, self._title(r)))
            artifacts.append(norms_chart(r))
            strip = eye_strip(r)
            if strip is not None:
                artifacts.append(strip)
        details = {
            "tracks": [r.summary() for r in results],
            "blink_rule": blink_rule(),
            "human_norms": NORMS,
            "decisive_track": None if best is None else best.signals.track_id,
            "face_pipeline": fa.summary(),
        }
        info = media.video_info()
        if info.duration_s and info.duration_s > fa.duration_s + 0.5:
            details["note"] = (f"the shared face pipeline analysed the first {fa.duration_s:.1f} s of "
                               f"{info.duration_s:.1f} s")
        summary = self._summary(plotted)

        if not any(r.judged for r in results):
            reason = results[0].reason if len(results) == 1 else "; ".join(
                f"track {r.signals.track_id}: {r.reason}" for r in results)
            if model is None:
                reason += f" (and the LRCN eye-state model is unavailable: {problem})"
            return self.inconclusive(reason, card=card, summary=summary, details=details, artifacts=artifacts)
        if model is None or score is None:
            return self.unavailable(f"LRCN eye-state model unavailable ({problem}); the EAR baseline is shown",
                                    summary=summary, details=details, artifacts=artifacts)
        if cal is None:
            return self.inconclusive("blinks measured, but the blink score has not been calibrated on labelled videos "
                                     "(train with --videos)", card=card, score=score, summary=summary,
                                     details=details, artifacts=artifacts)
        from forensics.api import useful_level

        p = cal.probability(score)
        details["calibration"] = cal.to_json()
        summary += (f" Low-blink surprise {score:.2f} (−log10 of the chance that a person blinking 17 times a "
                    f"minute blinks this little)")
        ok, figure = useful_level(card.metrics, "videos", require="cross")
        if not ok:  # a detector whose measured AUC interval includes 0.5 gets no vote (issue 17)
            details["vote"] = {"rule": "vote only when the card's AUC 95 % interval excludes 0.5",
                               "measured": figure, "probability_if_it_voted": round(p, 4)}
            return self.inconclusive(f"does not vote: the blink score's measured {figure}", card=card, score=score,
                                     summary=summary + f"; the detector does not vote ({figure}).", details=details,
                                     artifacts=artifacts)
        summary += f" → P(synthetic) {p:.2f}; measured {figure}."
        return self.ran(p, card=card, score=score, summary=summary, details=details, artifacts=artifacts)

    @staticmethod
    def _plotted(results: list[TrackResult], best: TrackResult | None) -> list[TrackResult]:
        order = sorted(results, key=lambda r: (r is not best, not r.judged, -len(r.signals)))
        return order[:MAX_PLOTTED_TRACKS]

    @staticmethod
    def _title(r: TrackResult) -> str:
        st = r.lrcn or r.ear
        src = "LRCN" if r.lrcn is not None else "EAR"
        head = (f"Face track {r.signals.track_id}: {st.count} blink{'' if st.count == 1 else 's'} ({src}) in {r.visible_s:.1f} s of visible eyes "
                f"= {st.rate_per_min:.1f}/min (norm: 17 at rest, 26 talking)")
        return head if r.judged else head + f"\nnot judged: {r.reason}"

    @staticmethod
    def _summary(plotted: list[TrackResult]) -> str:
        parts = []
        for r in plotted:
            s = r.summary()
            st = s.get("lrcn") or s["ear_baseline"]
            lo, hi = st["rate_per_min_95ci"]
            txt = (f"Face track {r.signals.track_id}: {st['blinks']} blink(s) in {r.visible_s:.1f} s of visible eyes "
                   f"({st['rate_per_min']}/min, 95 % interval {lo}–{hi}/min; human norm 17/min at rest, 26/min in "
                   f"conversation, 4.5/min reading — Bentivoglio et al. 1997)")
            if st.get("median_blink_duration_ms") is not None:
                txt += f", median blink {st['median_blink_duration_ms']:.0f} ms (norm 100–400 ms)"
            if st.get("median_inter_blink_interval_s") is not None:
                txt += f", median interval {st['median_inter_blink_interval_s']:.1f} s"
            if "lrcn" in s:
                txt += f"; EAR baseline: {s['ear_baseline']['blinks']} blink(s)"
            if not r.judged:
                txt += f" — not judged: {r.reason}"
            parts.append(txt + ".")
        return " ".join(parts)


@hookimpl
def forensics_register_detectors():
    return [BlinkDetector()]


@hookimpl
def forensics_register_commands(cli, train):
    from .commands import register

    register(train)
