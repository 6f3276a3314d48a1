"""Noise-inconsistency detector plugin: local noise-level map (wavelet MAD of HH1, Mahdian & Saic 2009) and a
Splicebuster residual co-occurrence map on sliding windows with a two-class EM (Cozzolino et al. 2015).
Any still format."""

from __future__ import annotations

import json

import numpy as np

from forensics.api import Artifact, Calibrator, Detector, Finding, ModelUnavailable, hookimpl, useful_level

from .figures import mask_png, posterior_figure, sigma_figure
from .noise import MAX_SIDE, NoiseResult, analyse_noise, calibrator_input
from .splicebuster import MARK

MAX_MEGAPIXELS = 100


class NoiseDetector(Detector):
    name = "noise"
    version = "2.0.0"
    media_kinds = ("image",)
    model_name = "noise"
    description = "Noise inconsistency: regions whose sensor/compression noise differs from the rest of the image."
    method = ("Local noise level from the median absolute HH1 wavelet coefficient per block (Mahdian & Saic, Image "
              "and Vision Computing 2009) and Splicebuster co-occurrences of quantised 3rd-order residuals on "
              "sliding windows, PCA and two-class EM (two Gaussians; Gaussian + uniform) (Cozzolino, Poggi & "
              "Verdoliva, IEEE WIFS 2015); image score: the map statistic chosen on training hosts, calibrated by Platt scaling on "
              "generated splices.")

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
        artifacts = self.artifacts(rgb, res)
        details = self.details(rgb, res)
        try:
            card = self.model_card()
            cal = Calibrator.from_json(json.loads(card.path("weights").read_text(encoding="utf-8")))
            feature = card.data.get("feature", "outlier_share")
        except (ModelUnavailable, ValueError, KeyError) as exc:
            return self.unavailable(f"noise maps computed, but no calibrated score: {exc}", artifacts=artifacts,
                                    score=res.cooc_score, details=details)
        score = res.score(feature)
        details["scored_feature"] = feature
        summary = (f"Noise σ per {res.block}-px block ranges {np.nanpercentile(res.sigma, 5):.2f}–"
                   f"{np.nanpercentile(res.sigma, 95):.2f} (5th–95th percentile). Residual co-occurrences: "
                   f"the smaller of two residual classes holds {100 * res.stats.get('outlier_share', 0):.1f} % of the "
                   f"windows; its largest marked region covers {100 * res.stats.get('region_share', 0):.1f} % of the "
                   "image (some region is marked in nearly every image). Flat, dark, saturated or heavily compressed areas, and strong texture, change residual "
                   "statistics by themselves.")
        ok, why = useful_level(card.metrics, "images")
        if not ok:
            return self.inconclusive(f"maps computed; the score does not vote: {why}", card=card, score=score,
                                     summary=summary, details=details, artifacts=artifacts)
        return self.ran(float(cal(calibrator_input(feature, score))), card=card, score=score, summary=summary, details=details, artifacts=artifacts)

    @staticmethod
    def details(rgb: np.ndarray, res: NoiseResult) -> dict:
        s = res.sigma[np.isfinite(res.sigma)]
        return {
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
            "marked_share": round(float((res.posterior > MARK).mean()), 4),
        }

    @staticmethod
    def artifacts(rgb: np.ndarray, res: NoiseResult) -> list[Artifact]:
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
                             "two-Gaussian EM). A compact bright area is what a splice from another "
                             "source tends to look like; scattered cells usually follow texture or flat areas."),
            Artifact(title="Noise foreign-class mask (binary)", png=mask_png(rgb, res), slug="noise-mask",
                     caption=f"Cells whose foreign-class probability exceeds {MARK}, at the image's size (white)."),
        ]


@hookimpl
def forensics_register_detectors():
    return [NoiseDetector()]


@hookimpl
def forensics_register_commands(cli, train):
    from .commands import register

    register(train)
