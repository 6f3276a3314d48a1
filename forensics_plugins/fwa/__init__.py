"""FWA detector plugin: face blending artefacts, trained on Self-Blended Images (Shiohara & Yamasaki, CVPR 2022)
and face-warping artefacts (Li & Lyu, CVPR Workshops 2019).

Reads the shared face tracks (:func:`forensics.api.face_analysis`; for a video the whole-duration tracks, dense
windows and the sparse frames between them), scores up to 32 frames evenly spaced in time over each face track with a CNN trained on real faces only (:mod:`.train`), reports per-frame scores
(``details["frame_scores"]``) and a per-face class-activation heat map. A model whose cross-source AUC interval
includes 0.5 (the card's ``voting``) makes the detector inconclusive: no probability, the figure instead.
"""

from __future__ import annotations

import numpy as np

from forensics.api import (
    Artifact,
    Detector,
    FaceAnalysis,
    Finding,
    face_analysis,
    hookimpl,
)

from .infer import AGGREGATION, FRAMES_PER_TRACK, TrackScore, score_tracks

MAX_HEATMAP_FACES = 4
HEATMAP_SIDE = 224


def _load(path, arch: str):
    """Build the network from hash-checked weights (cached by :meth:`ModelCard.load`)."""
    import torch

    from .model import load_weights

    torch.manual_seed(0)
    return load_weights(str(path), arch)


def heatmap_overlay(rgb: np.ndarray, cam: np.ndarray, side: int = HEATMAP_SIDE) -> np.ndarray:
    """``[face | CAM overlay]`` side by side: red = evidence for manipulation, blue = against (symmetric scale)."""
    import cv2

    face = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_CUBIC)
    c = cv2.resize(cam.astype(np.float32), (side, side), interpolation=cv2.INTER_CUBIC)
    v = float(np.abs(c).max()) or 1.0
    t = np.clip(c / v, -1, 1)
    colour = np.zeros_like(face, dtype=np.float32)
    colour[..., 0] = np.clip(t, 0, 1) * 255  # red: pushes towards "manipulated"
    colour[..., 2] = np.clip(-t, 0, 1) * 255  # blue: pushes towards "authentic"
    alpha = 0.55 * np.abs(t)[..., None]
    over = (1 - alpha) * face.astype(np.float32) + alpha * colour
    sep = np.full((side, 4, 3), 255, np.uint8)
    return np.concatenate([face, sep, np.clip(over, 0, 255).astype(np.uint8)], axis=1)


class FWADetector(Detector):
    name = "fwa"
    version = "2.1.0"
    media_kinds = ("image", "video")
    model_name = "fwa"
    description = ("Face blending artefacts: a CNN trained on real faces and fakes made from them (self-blended "
                   "images, simulated warps) looks for the boundary a face swap leaves.")
    method = ("K. Shiohara and T. Yamasaki, 'Detecting Deepfakes with Self-Blended Images', CVPR 2022; Y. Li and "
              "S. Lyu, 'Exposing DeepFake Videos By Detecting Face Warping Artifacts', CVPR Workshops 2019; "
              "self-supervised training on real faces, per-face CAM heat maps.")

    def analyze(self, item, media) -> Finding:
        card = self.model_card()  # ModelUnavailable -> an "unavailable" finding (engine)
        fa: FaceAnalysis = face_analysis(media)  # NoFaceError -> "not applicable" (engine)
        kind = "image" if fa.is_image else "video"
        vote = (card.data.get("voting") or {}).get(kind)
        if not vote or not vote.get("votes"):
            why = (vote or {}).get("why") or "the model card records no cross-source figure that allows a vote"
            return self.inconclusive(f"{why}; no vote (issue 17 rule: a detector whose cross-source AUC interval "
                                     "includes 0.5 does not vote)", card=card,
                                     details={"voting": vote, "figure": self._figure(card, kind)})
        arch, size = card.data["arch"], int(card.data["input_size"])
        model = card.load("weights", _load, arch)
        import torch

        torch.manual_seed(0)
        scores = score_tracks(model, arch, size, fa, FRAMES_PER_TRACK, with_cam=True)
        best = max(scores, key=lambda s: s.score)
        p = best.score
        artifacts = self._artifacts(scores, fa)
        if kind == "video":
            artifacts.append(self._series(scores))
        n_frames = sum(len(s.probabilities) for s in scores)
        summary = (f"{len(scores)} face(s); highest P(manipulated) {p:.2f} for face {best.track_id}"
                   + (f" (mean of {len(best.probabilities)} frames from {min(best.times):.1f} s to "
                      f"{max(best.times):.1f} s, range {min(best.probabilities):.2f}–{max(best.probabilities):.2f})"
                      if kind == "video" else "")
                   + ". Rule: mean over frames per face, maximum over faces.")
        per_time: dict[float, float] = {}
        for s in scores:
            for t, q in zip(s.times, s.probabilities):
                per_time[round(t, 3)] = max(per_time.get(round(t, 3), 0.0), q)
        details = {
            "rule": AGGREGATION,
            "frame_scores": [[t, round(q, 4)] for t, q in sorted(per_time.items())],
            "frame_scores_note": "[time_s, P(manipulated)] per scored frame; with several faces, the highest face",
            "faces": [{"track_id": s.track_id, "score": round(s.score, 4), "frames_scored": len(s.probabilities),
                       "frame_indices": s.frame_indices,
                       "frame_scores": [[round(t, 3), round(q, 4)] for t, q in zip(s.times, s.probabilities)]}
                      for s in scores],
            "frames_scored": n_frames,
            "arch": arch,
            "input_size": size,
            "voting": vote,
            "face_pipeline": fa.summary(),
        }
        finding = self.ran(p, card=card, score=float(np.log(p / max(1 - p, 1e-12)) if p < 1 else 40.0),
                           summary=summary, details=details, artifacts=artifacts)
        if fa.is_image:  # error rate measured on images, where the card has one
            img = (card.data.get("metrics_by_kind") or {}).get("image")
            if img:
                finding.error_rate = {k: img[k] for k in ("auc", "auc_ci95", "eer", "accuracy", "threshold", "n_test",
                                                          "n_test_positive", "n_test_negative", "dataset",
                                                          "command") if k in img}
        return finding

    @staticmethod
    def _figure(card, kind: str) -> dict | None:
        m = ((card.data.get("metrics_by_kind") or {}).get("image") if kind == "image" else None) \
            or card.data.get("metrics")
        if not m:
            return None
        return {k: m.get(k) for k in ("auc", "auc_ci95", "eer", "n_test_negative", "n_test_positive", "dataset",
                                      "kind")}

    def _artifacts(self, scores: list[TrackScore], fa: FaceAnalysis) -> list[Artifact]:
        arts = []
        for s in sorted(scores, key=lambda s: -s.score)[:MAX_HEATMAP_FACES]:
            j = int(np.argmax(s.probabilities))
            img = heatmap_overlay(s.inputs[j], s.cams[j])
            when = f"frame {s.frame_indices[j]} ({s.times[j]:.2f} s)" if not fa.is_image else "the image"
            arts.append(Artifact.from_array(
                f"FWA heat map, face {s.track_id}", img, slug=f"fwa-face{s.track_id}",
                caption=(f"Left: the aligned face region the network saw ({when}; P(manipulated) "
                         f"{s.probabilities[j]:.2f}, face score {s.score:.2f}). Right: class-activation map "
                         "(coarse, from the last feature map): red areas push towards 'manipulated', "
                         "blue towards 'authentic'. Blending artefacts tend to show along the face boundary.")))
        return arts

    def _series(self, scores: list[TrackScore]) -> Artifact:
        from forensics.api import figure, figure_artifact

        fig = figure(7.0, 2.6)
        ax = fig.add_subplot(1, 1, 1)
        for s in scores:
            ax.plot(s.times, s.probabilities, marker="o", markersize=2.5, linewidth=1, label=f"face {s.track_id}")
        ax.axhline(0.5, color="grey", linewidth=0.8, linestyle="--")
        ax.set_ylim(0, 1)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("P(manipulated)")
        ax.legend(loc="upper right", fontsize=7)
        return figure_artifact(fig, "FWA per-frame probability", slug="fwa-series",
                               caption="P(manipulated) for each scored frame of each face track; the face score is the "
                                       "mean, the item score the highest face score.")


@hookimpl
def forensics_register_detectors():
    return [FWADetector()]


@hookimpl
def forensics_register_commands(cli, train):
    from .commands import register

    register(train)
