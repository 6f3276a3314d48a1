"""ELA detector plugin: error-level analysis of JPEG images (Krawetz 2007)."""

from __future__ import annotations

import json

import numpy as np

from forensics.api import Artifact, Detector, Finding, ModelUnavailable, hookimpl

from .ela import FEATURES, Calibrator, features, heatmap

RESAVE_QUALITY = 90
MAX_MEGAPIXELS = 60
ARTIFACT_MAX_SIDE = 768


def _thumb(rgb: np.ndarray, max_side: int = ARTIFACT_MAX_SIDE, nearest: bool = False) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    s = max_side / max(h, w)
    if s >= 1 and not nearest:
        return rgb
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


class ELADetector(Detector):
    name = "ela"
    version = "1.1.0"
    media_kinds = ("image",)
    model_name = "ela"
    description = "Error-level analysis: re-save at a fixed JPEG quality and look for regions whose error level is inconsistent."
    method = ("Error-level analysis (N. Krawetz, 'A Picture's Worth', Black Hat 2007); block error levels normalised "
              "by local texture, scored for inconsistency and calibrated by logistic regression on generated splices.")

    def not_applicable_reason(self, item) -> str | None:
        reason = super().not_applicable_reason(item)
        if reason:
            return reason
        if item.format != "jpeg":
            return (f"ELA compares JPEG compression error levels; this image is {item.format.upper()}, "
                    "whose (lossless or different) compression gives no comparable error levels")
        return None

    def analyze(self, item, media) -> Finding:
        info = media.image_info()
        if info["width"] * info["height"] > MAX_MEGAPIXELS * 1_000_000:
            return self.inconclusive(f"image is {info['width']}×{info['height']}; ELA is limited to {MAX_MEGAPIXELS} MP")
        rgb = media.image_rgb()
        if min(rgb.shape[:2]) < 32:
            return self.inconclusive(f"image is only {rgb.shape[1]}×{rgb.shape[0]} pixels; too small for block statistics")
        subsampling = info.get("jpeg_subsampling", 2)
        subsampling = subsampling if subsampling in (0, 1, 2) else 2
        feats, maps = features(rgb, RESAVE_QUALITY, subsampling)
        ela = maps["ela"]
        amplified = heatmap(ela)
        z = np.clip(maps["z"], 0, 6)
        zimg = heatmap(np.kron(z, np.ones((8, 8), dtype=np.float32)), vmax=6.0)
        artifacts = [
            Artifact.from_array("ELA map", _thumb(amplified), slug="ela-map",
                                caption=f"|image − resave at quality {RESAVE_QUALITY}|, amplified so the 99.5th percentile "
                                        "is white. Compare regions of similar texture: a pasted region often has a "
                                        "different error level from its surroundings."),
            Artifact.from_array("Unexplained error (block z-score)", _thumb(zimg), slug="block-z",
                                caption="Per 8×8 block: error level divided by local texture, as a robust z-score "
                                        "(white = 6 or more). Isolated bright blocks are usually edges; a compact bright "
                                        "area is what a splice tends to look like."),
        ]
        details = {
            "resave_quality": RESAVE_QUALITY,
            "resave_chroma_subsampling": {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}[subsampling],
            "estimated_original_quality": info.get("jpeg_quality_estimate"),
            "size": [int(rgb.shape[1]), int(rgb.shape[0])],
            "features": {k: round(float(v), 6) for k, v in zip(FEATURES, feats)},
            "outlier_blocks": int((maps["z"] > 3).sum()),
            "blocks": int(maps["z"].size),
        }
        try:
            card = self.model_card()
            cal = Calibrator.from_json(json.loads(card.path("weights").read_text(encoding="utf-8")))
        except (ModelUnavailable, ValueError, KeyError) as exc:
            return self.unavailable(f"ELA map computed, but no calibrated score: {exc}", artifacts=artifacts,
                                    details=details)
        score = cal.decision(feats)
        p = cal.probability(feats)
        share = details["outlier_blocks"] / max(details["blocks"], 1)
        summary = (f"{details['outlier_blocks']} of {details['blocks']} blocks ({100 * share:.1f} %) have error levels "
                   f"that local texture does not explain (z > 3); the largest connected group covers "
                   f"{100 * feats[FEATURES.index('outlier_largest_component_area')]:.2f} % of the image. "
                   "ELA is a visual aid: read the map together with the score.")
        m = card.metrics
        ci = m.get("auc_ci95")
        if m.get("auc") is None or not ci or ci[0] <= 0.5:
            fig = (f"AUC {m['auc']:.3f} (95 % CI {ci[0]:.2f}–{ci[1]:.2f}) on {m.get('dataset', 'its test data')}"
                   if ci and m.get("auc") is not None else "no measured AUC interval")
            return self.inconclusive(f"ELA is shown as a visual aid and does not vote: its measured figure, {fig}, "
                                     "does not exclude chance", card=card, score=score, summary=summary,
                                     details=details, artifacts=artifacts)
        return self.ran(p, card=card, score=score, summary=summary, details=details, artifacts=artifacts)


@hookimpl
def forensics_register_detectors():
    return [ELADetector()]


@hookimpl
def forensics_register_commands(cli, train):
    from .commands import register

    register(train)
