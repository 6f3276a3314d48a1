"""Copy-move detector plugin: candidate transforms from SIFT/g2NN keypoints (Amerini et al. 2011), dense Zernike
matches (Cozzolino et al. 2015) and block matching (Fridrich et al. 2003), each verified by a dense difference map (after Pan & Lyu 2010), with the duplicated regions as
a mask and match lines on the image."""

from __future__ import annotations

import json

import numpy as np

from forensics.api import Artifact, Calibrator, Detector, Finding, ModelUnavailable, hookimpl, useful_level

from .cmfd import KEYPOINT_MAX_SIDE, SIFT_MIN_SIDE, CopyMoveResult, detect_copy_move
from .figures import mask_png, match_figure, overlay_figure

MAX_MEGAPIXELS = 100


class CopyMoveDetector(Detector):
    name = "copy_move"
    version = "2.1.1"
    media_kinds = ("image",)
    model_name = "copy_move"
    description = "Copy-move: finds regions of the image that were copied and pasted elsewhere in the same image."
    method = ("Candidate copy transforms from SIFT keypoints (small images upscaled) matched with the g2NN test, "
              "displacement voting and sequential RANSAC of similarity transforms refitted as affine maps (Amerini, "
              "Ballan, Caldelli, Del Bimbo & Serra, IEEE TIFS 2011), from dense rotation-invariant Zernike-moment matches fed to the same "
              "RANSAC (Cozzolino, Poggi & Verdoliva, IEEE TIFS 2015), and from near-identical blocks voting for a shift (Fridrich, Soukal & "
              "Lukas, DFRWS 2003); each candidate verified and localised by a dense map of where the image agrees "
              "with its warped copy distinctly better than with the copy moved 2 px (after Pan & Lyu, IEEE TIFS "
              "2010; rotated or scaled copies on the slightly low-passed image), periodic patterns rejected. Score: share of the image in the largest verified region, "
              "calibrated by Platt scaling on generated copy-moves.")

    def analyze(self, item, media) -> Finding:
        info = media.image_info()
        if info["width"] * info["height"] > MAX_MEGAPIXELS * 1_000_000:
            return self.inconclusive(f"image is {info['width']}×{info['height']}; copy-move search is limited to "
                                     f"{MAX_MEGAPIXELS} MP")
        rgb = media.image_rgb()
        if min(rgb.shape[:2]) < 48:
            return self.inconclusive(f"image is only {rgb.shape[1]}×{rgb.shape[0]} pixels; too small to search for "
                                     "copied regions")
        res = detect_copy_move(rgb)
        artifacts = self.artifacts(rgb, res)
        details = self.details(rgb, res)
        summary = self.summary(res)
        try:
            card = self.model_card()
            cal = Calibrator.from_json(json.loads(card.path("weights").read_text(encoding="utf-8")))
        except (ModelUnavailable, ValueError, KeyError) as exc:
            return self.unavailable(f"copy-move map computed, but no calibrated score: {exc}", artifacts=artifacts,
                                    score=res.score, details=details, summary=summary)
        ok, why = useful_level(card.metrics, "images")
        if not ok:
            return self.inconclusive(f"map computed; the score does not vote: {why}", card=card, score=res.score,
                                     summary=summary, details=details, artifacts=artifacts)
        return self.ran(cal(res.score), card=card, score=res.score, summary=summary, details=details,
                        artifacts=artifacts)

    @staticmethod
    def summary(res: CopyMoveResult) -> str:
        if not res.mask.any():
            text = (f"No copied region found ({res.keypoints} SIFT keypoints, {len(res.matches)} g2NN matches, "
                    f"{res.candidates} candidate transforms, none verified by the difference map).")
            if res.best_support > 0:
                text += (f" The score is graded, not a yes/no: the strongest unverified candidate agrees over "
                         f"{100 * res.best_support:.2f} % of the image, and the calibration turns that into the "
                         "probability; with no region marked, a high value means similar-looking areas, not a "
                         "located copy.")
            return text
        parts = [f"{100 * res.share:.2f} % of the image is marked as copied (source and target)"]
        if res.transforms:
            t = max(res.transforms, key=lambda t: t.support).describe(res.scale)
            parts.append(f"{len(res.transforms)} verified transform(s); the largest ({t['method']}, {t['inliers']} "
                         f"keypoint inliers) has rotation {t['rotation_deg']}°, scale {t['scale']}, shift "
                         f"{t['translation_px']} px")
        return "; ".join(parts) + ". Similar genuine objects (windows, tiles, crowds) can also match: check the figure."

    @staticmethod
    def details(rgb: np.ndarray, res: CopyMoveResult) -> dict:
        return {
            "size": [int(rgb.shape[1]), int(rgb.shape[0])],
            "working_scale": round(res.scale, 5),
            "analysis_max_side": KEYPOINT_MAX_SIDE,
            "sift_min_side": SIFT_MIN_SIDE,
            "keypoints": res.keypoints,
            "g2nn_matches": int(len(res.matches)),
            "candidates": res.candidates,
            "largest_verified_share": round(res.best_support, 6),
            "transforms": [t.describe(res.scale) for t in res.transforms],
            "marked_share": round(res.share, 6),
            "keypoint_share": round(float(res.keypoint_mask.mean()), 6) if res.keypoint_mask is not None else None,
            "block_or_dense_share": round(float(res.dense_mask.mean()), 6) if res.dense_mask is not None else None,
        }

    @staticmethod
    def artifacts(rgb: np.ndarray, res: CopyMoveResult) -> list[Artifact]:
        return [
            Artifact(title="Copy-move matches", png=match_figure(rgb, res), slug="copy-move-matches",
                     caption="SIFT matches that passed the g2NN test (thin yellow) and the RANSAC inliers of each "
                             "accepted transform (thick, one colour per transform), drawn source → target."),
            Artifact(title="Copy-move mask", png=overlay_figure(rgb, res), slug="copy-move-overlay",
                     caption="Regions found duplicated (source and target), outlined in red over the image: "
                             "every verified transform's target and, mapped back, its source."),
            Artifact(title="Copy-move mask (binary)", png=mask_png(res, rgb.shape[:2]), slug="copy-move-mask",
                     caption="The same mask at the image's size: white = marked as copied."),
        ]


@hookimpl
def forensics_register_detectors():
    return [CopyMoveDetector()]


@hookimpl
def forensics_register_commands(cli, train):
    from .commands import register

    register(train)
