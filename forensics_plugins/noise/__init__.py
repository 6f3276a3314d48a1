"""Noise-inconsistency detector plugin: local noise-level map (wavelet MAD of HH1, Mahdian & Saic 2009) and a
Splicebuster residual co-occurrence map on sliding windows with a two-class EM (Cozzolino et al. 2015).
Any still format."""

from __future__ import annotations

import json

import numpy as np

from forensics.api import Artifact, Calibrator, Detector, Finding, ModelUnavailable, hookimpl, useful_level

from .figures import mask_png, posterior_figure, sigma_figure
from .noise import MAX_SIDE, MarkGate, NoiseResult, analyse_noise, calibrator_input
from .splicebuster import MARK

MAX_MEGAPIXELS = 100


class NoiseDetector(Detector):
    name = "noise"
    version = "2.1.0"
    media_kinds = ("image",)
    model_name = "noise"
    description = "Noise inconsistency: regions whose sensor/compression noise differs from the rest of the image."
    method = ("Local noise level from the median absolute HH1 wavelet coefficient per block (Mahdian & Saic, Image "
              "and Vision Computing 2009) and Splicebuster co-occurrences of quantised 3rd-order residuals on "
              "sliding windows, PCA and two-class EM (two Gaussians; Gaussian + uniform) (Cozzolino, Poggi & "
              "Verdoliva, IEEE WIFS 2015); image score: the map statistic chosen on training hosts, calibrated by Platt scaling on "
              "generated splices. The binary mask is drawn only when a region statistic exceeds a threshold set on "
              "authentic training images at a stated false-mark rate.")

    def analyze(self, item, media) -> Finding:
        info = media.image_info()
        if info["width"] * info["height"] > MAX_MEGAPIXELS * 1_000_000:
            return self.inconclusive(f"image is {info['width']}×{info['height']}; noise analysis is limited to "
                                     f"{MAX_MEGAPIXELS} MP")
        rgb = media.image_rgb()
        if min(rgb.shape[:2]) < 96:
            return self.inconclusive(f"image is only {rgb.shape[1]}×{rgb.shape[0]} pixels; too few blocks for noise "
                                     "statistics")
        res = analyse_noise(rgb)
        try:
            card = self.model_card()
            cal, gate = card.load("weights", load_calibration)
            feature = card.data.get("feature", "outlier_share")
        except (ModelUnavailable, ValueError, KeyError, TypeError) as exc:
            artifacts = self.artifacts(rgb, res, None)
            return self.unavailable(f"noise maps computed, but no calibrated score or mark threshold: {exc}",
                                    artifacts=artifacts, score=res.cooc_score, details=self.details(rgb, res, None))
        artifacts = self.artifacts(rgb, res, gate)
        details = self.details(rgb, res, gate)
        score = res.score(feature)
        details["scored_feature"] = feature
        summary = (f"Noise σ per {res.block}-px block ranges {np.nanpercentile(res.sigma, 5):.2f}–"
                   f"{np.nanpercentile(res.sigma, 95):.2f} (5th–95th percentile). " + region_sentence(res, gate)
                   + " Flat, dark, saturated or heavily compressed areas, and strong texture, change residual "
                   "statistics by themselves.")
        ok, why = useful_level(card.metrics, "images")
        if not ok:
            return self.inconclusive(f"maps computed; the score does not vote: {why}", card=card, score=score,
                                     summary=summary, details=details, artifacts=artifacts)
        return self.ran(float(cal(calibrator_input(feature, score))), card=card, score=score, summary=summary,
                        details=details, artifacts=artifacts)

    @staticmethod
    def details(rgb: np.ndarray, res: NoiseResult, gate: MarkGate | None) -> dict:
        s = res.sigma[np.isfinite(res.sigma)]
        marked = gate is not None and gate.marks(res)
        above = float((res.posterior > MARK).mean()) if res.posterior.size else 0.0
        d = {
            "size": [int(rgb.shape[1]), int(rgb.shape[0])],
            "working_scale": round(res.scale, 5),
            "max_side": MAX_SIDE,
            "wavelet_block_px": res.block,
            "cooc_block_px": res.cooc_block,
            "blocks_used": res.blocks_used,
            "sigma_median": round(float(np.median(s)), 4) if s.size else None,
            "sigma_p95_over_p5": round(float(np.percentile(s, 95) / max(np.percentile(s, 5), 1e-3)), 3) if s.size else None,
            "cooc_window_cells": res.window_cells,
            "wavelet_two_class_bic_gain": round(res.wavelet_score, 5),
            "cooc_two_class_bic_gain": round(res.cooc_score, 5),
            "cooc_foreign_weight": round(float(res.stats.get("outlier_share", 0.0)), 4),
            "cooc_region_share": round(float(res.stats.get("region_share", 0.0)), 4),
            "cooc_region_contrast": round(float(res.stats.get("contrast", 0.0)), 4),
            "cells_above_mark_share": round(above, 4),
            "region_marked": bool(marked),
            "marked_share": round(above, 4) if marked else 0.0,
        }
        if gate is not None:
            d.update(mark_statistic=gate.statistic, mark_statistic_value=round(gate.value(res), 6),
                     mark_threshold=round(gate.threshold, 6), mark_false_mark_rate_training=round(gate.fmr, 4),
                     mark_target_false_mark_rate=gate.target_fmr, mark_threshold_authentic_images=gate.n_authentic,
                     mark_false_mark_rate_heldout=gate.heldout_fmr, mark_heldout_authentic_images=gate.heldout_n)
        return d

    @staticmethod
    def artifacts(rgb: np.ndarray, res: NoiseResult, gate: MarkGate | None) -> list[Artifact]:
        marked = gate is not None and gate.marks(res)
        if marked:
            title = "Noise region mask: a region stands out"
            caption = (f"Cells whose foreign-class probability exceeds {MARK}, at the image's size (white), drawn "
                       f"because {gate.statistic} = {gate.value(res):.4g} exceeds the calibrated threshold "
                       f"{gate.threshold:.4g} ({gate.rate_text()}). It says where residual statistics differ, not "
                       "that a splice is present.")
        else:
            title = "Noise region mask: no region stands out"
            caption = (f"No region stands out at the calibrated threshold ({gate.rate_text()}): {gate.statistic} = "
                       f"{gate.value(res):.4g} ≤ {gate.threshold:.4g}; no region is marked (empty mask). The "
                       "continuous maps above still show where residual statistics vary." if gate is not None else
                       "No calibrated mark threshold is installed, so no region is marked (empty mask); the "
                       "continuous maps above show where residual statistics vary.")
        return [
            Artifact(title="Local noise level (wavelet MAD)", png=sigma_figure(rgb, res), slug="noise-sigma",
                     caption=f"Noise standard deviation per {res.block}-px block from the HH1 wavelet sub-band "
                             "(Mahdian & Saic 2009), beside the image. Grey = saturated blocks (not measured). A "
                             "region with a different noise level from similar surroundings is suspicious; flat or "
                             "dark areas are naturally lower."),
            Artifact(title="Residual co-occurrence: foreign-class probability", png=posterior_figure(rgb, res),
                     slug="noise-cooc",
                     caption=f"Per {res.cooc_block}-px cell: probability that the sliding windows covering it "
                             "(8 × 8 cells) belong to the smaller of two residual classes (Splicebuster features, "
                             "two-Gaussian EM). The two-class model splits every image in two, so a bright area "
                             "appears in authentic photos too; the mask below says whether it stands out."),
            Artifact(title=title, png=mask_png(rgb, res, marked), slug="noise-mask", caption=caption),
        ]


def region_sentence(res: NoiseResult, gate: MarkGate) -> str:
    """The summary's sentence on the binary mask: a region stands out only when the gate says so."""
    v = gate.value(res)
    if gate.marks(res):
        share = 100 * float((res.posterior > MARK).mean())
        return (f"A region stands out: {gate.statistic} = {v:.4g} exceeds the calibrated threshold "
                f"{gate.threshold:.4g} ({gate.rate_text()}); the marked cells cover {share:.1f} % of the image.")
    return (f"No region stands out at the calibrated threshold ({gate.rate_text()}): {gate.statistic} = {v:.4g} ≤ "
            f"{gate.threshold:.4g}; no region is marked.")


def load_calibration(path) -> tuple[Calibrator, MarkGate]:
    """The Platt calibrator and the mark gate from the hash-checked ``calibrator.json``."""
    d = json.loads(path.read_text(encoding="utf-8"))
    if "mark_gate" not in d:
        raise ValueError(f"{path.name} has no mark threshold (a model older than 2.1.0); retrain with "
                         "`forensics train noise`")
    return Calibrator.from_json(d["calibrator"]), MarkGate.from_json(d["mark_gate"])


@hookimpl
def forensics_register_detectors():
    return [NoiseDetector()]


@hookimpl
def forensics_register_commands(cli, train):
    from .commands import register

    register(train)
