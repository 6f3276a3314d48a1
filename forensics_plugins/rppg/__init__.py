"""rPPG detector plugin: biological-signal consistency of face videos (FakeCatcher-style).

Method: U. A. Ciftci, I. Demir, L. Yin, "FakeCatcher: Detection of Synthetic Portrait
Videos using Biological Signals", IEEE TPAMI 2020 -- a real face's pulse is visible in
every skin region with one rhythm, stable over time; synthesised faces break that
consistency. Signals: CHROM (de Haan & Jeanne 2013), POS (Wang et al. 2017), GREEN
(Verkruysse et al. 2008); see :mod:`.signals`, :mod:`.regions`, :mod:`.features`.

Pipeline per video: shared face tracks (:func:`forensics.faces.face_analysis`) → mean
colour of six skin regions and a 4×4 PPG map per frame → pulse signals at 30 Hz →
23 features per 5 s window → RBF SVM → mean window decision → Platt probability.
The detector votes only when the card's cross-source (cross-method) AUC interval excludes 0.5;
otherwise it is inconclusive with that figure. The heart rate is stated only with the measured
error of the estimator (``benchmarks/rppg_hr.py``, stored in the card), or not at all.
Still images are not applicable; clips under 5 s, under 10 fps or too heavily
compressed are inconclusive (with the signals still shown).
"""

from __future__ import annotations

import json

import numpy as np

from forensics.api import Detector, Finding, ModelUnavailable, hookimpl

from . import pipeline as P
from .features import FEATURES, WINDOW_S

MIN_MEASURED_SUBJECTS = 3  # a heart rate is stated only when at least this many held-out subjects measured its error


def heart_rate(ts) -> dict | None:
    """Heart rate of one track's region signals by the estimator setting the model card measured
    (:func:`.signals.estimate_heart_rate`), with that measured error attached; ``None`` without regions."""
    from forensics.api import model_card_data

    from .signals import HREstimatorConfig, estimate_heart_rate

    figure = (model_card_data("rppg") or {}).get("heart_rate")
    cfg = HREstimatorConfig.from_json((figure or {}).get("setting"))
    methods = tuple(ts.signals) if cfg.method == "all" else (cfg.method,)
    if not ts.regions or any(m not in ts.signals for m in methods):
        return None
    sig = {(r if cfg.method != "all" else f"{r}/{m}"): row for m in methods for r, row in zip(ts.regions, ts.signals[m])}
    est = estimate_heart_rate(sig, ts.fs, cfg)
    if figure:
        est["measured_error"] = {k: figure[k] for k in ("mae_bpm", "mae_ci95", "n_test_subjects",
                                                         "baseline_median_guess_mae_bpm", "target_met", "command",
                                                         "n_reliable_test_subjects", "reliable_mae_bpm",
                                                         "reliable_mae_ci95")
                                 if k in figure}
    return est


class RPPGDetector(Detector):
    name = "rppg"
    version = "1.1.1"  # 1.1.1: heart rate stated only when the estimate passes its SNR gate (findings text)
    media_kinds = ("video",)
    model_name = "rppg"
    description = ("Biological signals: remote photoplethysmography (pulse from skin colour) in several face "
                   "regions; a real face shows one consistent heart beat everywhere, synthesised faces often do not.")
    method = ("FakeCatcher-style rPPG consistency (Ciftci, Demir & Yin, TPAMI 2020) with CHROM (de Haan & Jeanne "
              "2013), POS (Wang et al. 2017) and GREEN (Verkruysse et al. 2008) signals from six face regions and "
              "a 4×4 PPG map; 23 spectral / cross-region / temporal features per 5 s window; RBF SVM with Platt "
              "calibration, averaged per video.")

    def analyze(self, item, media) -> Finding:
        vt = P.video_traces(media)  # NoFaceError -> "not applicable" (engine)
        details = {
            "face_pipeline_fps": round(vt.fps, 3),
            "duration_analysed_s": round(vt.duration_s, 2),
            "bits_per_pixel": None if vt.bits_per_pixel is None else round(vt.bits_per_pixel, 5),
            "face_pipeline": vt.face_summary,
        }
        info = media.video_info()
        duration = info.duration_s if info.duration_s else vt.duration_s
        # ---- signals of every track, even when the clip is too short to score
        tracks = []
        for tt in vt.tracks:
            ts, wins = P.track_windows(tt)
            tracks.append((tt, ts, wins))
        main = tracks[0] if tracks else None
        artifacts, hr = [], None
        if main is not None and len(main[1].regions) >= 1 and len(main[1].times) >= 1.5 * main[1].fs:
            artifacts, hr = self._figures(main[0], main[1], main[2], None)
            details["spectral_peaks"] = hr
            details["heart_rate"] = heart_rate(main[1])
        # ---- gates: too short / too slow / too compressed → inconclusive, no guess
        reason = None
        if vt.fps < P.MIN_FPS:
            reason = (f"too few frames per second: {vt.fps:.1f} fps sampled; rPPG needs at least {P.MIN_FPS:g} fps "
                      "to resolve heart rates up to 4 Hz without aliasing")
        elif duration is not None and duration < P.MIN_SECONDS:
            reason = (f"clip shorter than {P.MIN_SECONDS:g} s ({duration:.1f} s): too short to measure a pulse "
                      f"(the features need at least one {WINDOW_S:g} s window)")
        elif not any(w for _, _, w in tracks):
            longest = max((tt.duration_s for tt, _, _ in tracks), default=0.0)
            reason = (f"no face is tracked for {P.MIN_SECONDS:g} s with at least {P.MIN_REGIONS} usable skin regions "
                      f"(longest track {longest:.1f} s)")
        elif vt.bits_per_pixel is not None and vt.bits_per_pixel < P.MIN_BITS_PER_PIXEL:
            reason = (f"heavy compression: {vt.bits_per_pixel:.4f} bits per pixel per frame, below "
                      f"{P.MIN_BITS_PER_PIXEL}; the pulse (a 0.1–0.5 % colour change) does not survive it")
        elif main is not None and main[0].frozen_share() > P.MAX_FROZEN_SHARE:
            reason = (f"heavy compression: the face's colour does not change between {100 * main[0].frozen_share():.0f} % "
                      "of consecutive frames (static blocks), so no pulse can be measured")
        if reason:
            try:
                card = self.model_card()
            except ModelUnavailable:
                card = None
            return self.inconclusive(reason, card=card, details=details, artifacts=artifacts,
                                     summary=self._hr_sentence(details.get("heart_rate"), short=True))
        # ---- model
        try:
            card = self.model_card()
            from .svm import RbfSvm

            model = RbfSvm.from_json(json.loads(card.path("weights").read_text(encoding="utf-8")))
            if tuple(model.features) != FEATURES:
                raise ValueError("the model's feature list does not match this detector version")
        except (ModelUnavailable, ValueError, KeyError, OSError) as exc:
            return self.unavailable(f"rPPG signals computed, but no trained SVM: {exc}", details=details,
                                    artifacts=artifacts)
        per_track = []
        for tt, ts, wins in tracks:
            if not wins:
                continue
            X = np.stack([w.features for w in wins])
            score, d = model.video_score(X)
            per_track.append({
                "track_id": tt.track_id, "duration_s": round(tt.duration_s, 2), "windows": len(wins),
                "score": round(score, 4), "probability": round(model.probability_from_score(score), 4),
                "window_decisions": [round(float(v), 4) for v in d],
                "feature_means": {k: round(float(v), 4) for k, v in zip(FEATURES, X.mean(axis=0))},
            })
        best = max(per_track, key=lambda r: r["probability"])
        if artifacts and main is not None and main[2] and artifacts[-1].slug == "rppg-consistency":
            wprob = [model.probability_from_score(float(v)) for v in model.decision(np.stack([w.features for w in main[2]]))]
            from .figures import consistency_figure

            artifacts[-1] = consistency_figure(main[1], main[2], hr, wprob, FEATURES)
        details["tracks"] = per_track
        details["scored_track"] = best["track_id"]
        summary = (f"Mean SVM decision {best['score']:+.2f} over {best['windows']} windows of 5 s "
                   f"(face track {best['track_id']}, {best['duration_s']:.1f} s)"
                   + (f"; the highest of {len(per_track)} tracks" if len(per_track) > 1 else "") + ". "
                   + self._hr_sentence(details.get("heart_rate")))
        from forensics.api import useful_level

        ok, figure = useful_level(card.metrics, "video scores", require="cross")
        if not ok:  # a detector whose cross-source interval includes 0.5 gets no vote (issue 17)
            details["vote"] = {"rule": "vote only when the card's cross-source AUC 95 % interval excludes 0.5",
                               "measured": figure, "probability_if_it_voted": best["probability"]}
            return self.inconclusive(f"does not vote: the SVM score's measured {figure}", card=card,
                                     score=best["score"], summary=summary, details=details, artifacts=artifacts)
        return self.ran(best["probability"], card=card, score=best["score"], summary=summary, details=details,
                        artifacts=artifacts)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _hr_sentence(hr: dict | None, short: bool = False) -> str:
        """The heart rate, only when the estimator calls its signal reliable and only with the error measured on
        held-out subjects whose estimates were reliable too (model card ``heart_rate``); otherwise why not."""
        if not hr or hr.get("hr_bpm") is None:
            return "No heart rate could be estimated."
        if not hr.get("reliable"):
            why = hr.get("unreliable_reason") or "the fused spectrum has a low SNR"
            return f"No heart rate is stated: the pulse signal is unreliable ({why})."
        err = hr.get("measured_error")
        if not err or "reliable_mae_bpm" not in err:
            return "No heart rate is stated: the estimator's error has not been measured."
        n_rel = int(err.get("n_reliable_test_subjects") or 0)
        if n_rel < MIN_MEASURED_SUBJECTS or err.get("reliable_mae_bpm") is None:
            return (f"No heart rate is stated: only {n_rel} of {err['n_test_subjects']} held-out subjects passed the "
                    "reliability gate, too few to measure the error of a reliable estimate.")
        lo, hi = err["reliable_mae_ci95"]
        words = (f"Estimated heart rate {hr['hr_bpm']:.0f} bpm ({hr['method'].upper()}, regions fused by signal "
                 f"quality, SNR {hr['snr_db']:.1f} dB); this estimator's measured error on held-out subjects with a "
                 f"reliable signal is {err['reliable_mae_bpm']:.1f} bpm on average (95 % CI {lo:.1f}–{hi:.1f}, "
                 f"{n_rel} subjects)")
        if err["reliable_mae_bpm"] >= err.get("baseline_median_guess_mae_bpm", float("inf")):
            words += (f", no better than always guessing the median heart rate (error "
                      f"{err['baseline_median_guess_mae_bpm']:.1f} bpm): do not rely on this number")
        elif err["reliable_mae_bpm"] > 5:
            words += ": indicative only"
        words += "."
        if short:
            words += " (Heart rate from a short clip.)"
        return words

    @staticmethod
    def _figures(tt, ts, wins, window_prob):
        from . import figures as FG

        hr = FG.whole_track_hr(ts)
        arts = []
        if tt.mid_crop is not None:
            arts.append(FG.region_map(tt.mid_crop, tt.mid_landmarks))
        note = f" — track {tt.track_id}, {tt.duration_s:.1f} s"
        arts.append(FG.signals_figure(ts, hr, note))
        arts.append(FG.spectra_figure(ts, hr))
        if wins:  # coherence and per-window figures need at least one full window
            arts.append(FG.consistency_figure(ts, wins, hr, window_prob, FEATURES))
        return arts, hr


@hookimpl
def forensics_register_detectors():
    return [RPPGDetector()]


@hookimpl
def forensics_register_commands(cli, train):
    from .commands import register

    register(train)
