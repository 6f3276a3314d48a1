"""The rPPG model card: template fields for :func:`forensics.api.write_model_card`."""

from __future__ import annotations

from typing import Any

from . import features as F
from . import pipeline as P

TITLE = "rPPG biological-signal detector (`rppg`)"
METHOD = ("FakeCatcher-style rPPG consistency (Ciftci, Demir & Yin, TPAMI 2020) with CHROM (de Haan & Jeanne 2013), "
          "POS (Wang et al. 2017) and GREEN (Verkruysse et al. 2008) from six face regions and a 4×4 PPG map.")


def hr_sentence(hr: dict | None) -> str:
    """How the card states the heart-rate estimator's measured error and its reliability gate."""
    if not hr:
        return "The heart-rate estimator has no measured error: reports do not state a heart rate."
    lo, hi = hr["mae_ci95"]
    s = (f"Subject-level heart-rate MAE **{hr['mae_bpm']:.1f} bpm** (95 % CI {lo:.1f}–{hi:.1f}) on "
         f"{hr['n_test_subjects']} subjects not used for tuning ({hr['within_5_bpm']:.0%} within 5 bpm), counting "
         f"every estimate; always guessing the tuning subjects' median gives {hr['baseline_median_guess_mae_bpm']:.1f} "
         f"bpm. `{hr['command']}`.")
    tt = hr.get("tune_tempo")
    if tt:
        s += (f" The setting was chosen on the tuning subjects each played back at tempo "
              f"{min(tt['factors']):g}–{max(tt['factors']):g} (so that a setting returning a typical rate whatever "
              f"the signal does not win): MAE {tt['mae_bpm']:.1f} bpm there, against {tt['constant_guess_mae_bpm']:.1f} "
              f"for a constant guess; slope of estimate on true rate {tt['slope']:.2f} there"
              + (f" and {hr['test_slope']:.2f} on the held-out subjects" if hr.get("test_slope") is not None else "")
              + " (1 = the estimate follows the pulse, 0 = it ignores it).")
    if "n_reliable_test_subjects" in hr:
        n = hr["n_reliable_test_subjects"]
        s += (f" The estimator's SNR gate (fixed from noise; false accepts on synthetic noise "
              f"{hr.get('noise_false_accepts', 'n/a')}) called {n} of {hr['n_test_subjects']} held-out subjects reliable")
        if hr.get("reliable_mae_bpm") is not None:
            rlo, rhi = hr["reliable_mae_ci95"]
            s += f", with MAE {hr['reliable_mae_bpm']:.1f} bpm (95 % CI {rlo:.1f}–{rhi:.1f}) on those."
        else:
            s += "."
        s += (" Reports state a heart rate only when the estimate is reliable and at least 3 held-out subjects "
              "measured the error of reliable estimates; otherwise they say why none is stated.")
        if "target_met" in hr and not hr["target_met"]:
            s += " **Target (≤ 5 bpm on all held-out subjects) not met.**"
        return s
    if hr.get("target_met"):
        return s + " Reports state the heart rate with this error."
    return s + (" **Target (≤ 5 bpm) not met**: reports state the heart rate only with this measured error"
                + (", and say it is no better than a constant guess." if hr["mae_bpm"] >= hr[
                    "baseline_median_guess_mae_bpm"] else "."))


def card_fields(card: dict[str, Any]) -> dict[str, Any]:
    from forensics.api import useful_level

    m, t = card.get("metrics") or {}, card.get("training") or {}
    ok, figure = useful_level(m, "video scores", require="cross")
    card["title"] = TITLE
    card["detector"] = "forensics_plugins.rppg:RPPGDetector"
    card["method"] = METHOD
    card["summary"] = ("Pulse signals of six skin regions of the shared face tracks → 23 spectral / cross-region / "
                       "temporal features per 5 s window → RBF SVM → mean window decision → Platt probability.")
    card["status"] = (f"**Votes**: {figure}." if ok else
                      f"**Does not vote**: {figure}. The detector returns *inconclusive* with this figure and its "
                      "signals; fusion gets no probability from it until a cross-source interval excludes 0.5.")
    fs = card.get("feature_summary") or {}
    feats = "\n".join(f"| `{f}` | {v['mean_real']:.3f} | {v['mean_fake']:.3f} | {v['auc_fake_high']:.2f} | "
                      f"{'real higher' if F.PREMISE[f] > 0 else 'fake higher'} | "
                      f"{'yes' if v['agrees_with_premise'] else 'NO'} |" for f, v in fs.items() if f in F.PREMISE)
    groups = "\n".join(f"| `{g}` | {v['videos']} | {v['real']} | {v['fake']} |" for g, v in t.get("groups", {}).items())
    oof = "\n".join(f"| `{r['video']}` | {'fake' if r['label'] else 'real'} | {r['score']:+.3f} | "
                    f"{'' if r['probability'] is None else format(r['probability'], '.2f')} |"
                    for r in card.get("out_of_fold", []))
    per_method = (m.get("per_method") or {})
    pm = "\n".join(f"| {k} | {v['auc']} | {v.get('auc_ci95')} | {v['n_test_negative']} / {v['n_test_positive']} |"
                   for k, v in per_method.items())
    card["sections"] = [
        {"title": "Heart rate shown in reports", "body": hr_sentence(card.get("heart_rate"))
         + ("\n\nSetting (chosen on the tuning subjects): `" + str(dict(sorted(card["heart_rate"]["setting"].items()))) + "`"
            if card.get("heart_rate") else "")},
        {"title": "Cross-method figure per held-out method", "body": (
            "| held-out method | AUC | 95 % CI | scores real / fake |\n|---|---|---|---|\n" + pm) if pm else
         "not measured"},
        {"title": "Features (video-level class means on the training data)", "body": (
            "| feature | mean real | mean fake | AUC (fake high) | premise | agrees |\n|---|---|---|---|---|---|\n"
            + feats + "\n\nWhere the pulse itself is not measurable (SNR near or below 0 dB in both classes), the "
            "SVM learns whatever separates the classes in the colour traces; such directions need not hold on "
            "other data.")},
        {"title": "Training videos and identity groups", "body": (
            f"{t.get('videos')} videos ({t.get('real')} real, {t.get('fake')} fake), {t.get('windows')} windows, "
            f"{t.get('support_vectors')} support vectors.\n\n| group | videos | real | fake |\n|---|---|---|---|\n"
            + groups)},
        {"title": "Out-of-fold video scores (leave one identity group out)", "body": (
            "| video | label | score | P(fake) |\n|---|---|---|---|\n" + oof)},
    ]
    card["limitations"] = [
        "35 FaceForensics++ c40 videos of 6 YouTube identities and 5 DFD actors are far too few to train or measure "
        "a deepfake detector; every interval above is wide.",
        f"On heavily compressed video the pulse is mostly quantised away in real and fake faces alike; below "
        f"{P.MIN_BITS_PER_PIXEL} bit/pixel the detector reports inconclusive, but above it the pulse can still be "
        "too weak to measure.",
        "Fakes that change only expressions or the mouth (Face2Face, NeuralTextures) keep the target's skin, and so "
        "its pulse: the hardest case for this method.",
        "Licence: the training videos' terms apply to the weights (FaceForensics++: research only); the dlib "
        "68-point landmark model was trained on iBUG 300-W (non-commercial).",
    ]
    return card
