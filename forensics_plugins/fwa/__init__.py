"""FWA detector plugin: face-warping artefacts (Li & Lyu, CVPR Workshops 2019).

Reads the shared face tracks (:func:`forensics.faces.face_analysis`), scores up to
32 evenly spaced frames per face with a CNN trained self-supervised on simulated
warps (:mod:`.train`), and reports a per-face class-activation heat map.
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

from .infer import FRAMES_PER_TRACK, TrackScore, score_tracks

MAX_HEATMAP_FACES = 4
HEATMAP_SIDE = 224


def _load(path, arch: str):
    """Build the network from hash-checked weights (cached by :meth:`ModelCard.load`)."""
    import torch

    from .model import load_weights

    torch.manual_seed(0)
    return load_weights(str(path), arch)


def heatmap_overlay(rgb: np.ndarray, cam: np.ndarray, side: int = HEATMAP_SIDE) -> np.ndarray:
    """``[face | CAM overlay]`` side by side: red = evidence for warping, blue = against (symmetric scale)."""
    import cv2

    face = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_CUBIC)
    c = cv2.resize(cam.astype(np.float32), (side, side), interpolation=cv2.INTER_CUBIC)
    v = float(np.abs(c).max()) or 1.0
    t = np.clip(c / v, -1, 1)
    colour = np.zeros_like(face, dtype=np.float32)
    colour[..., 0] = np.clip(t, 0, 1) * 255  # red: pushes towards "warped"
    colour[..., 2] = np.clip(-t, 0, 1) * 255  # blue: pushes towards "authentic"
    alpha = 0.55 * np.abs(t)[..., None]
    over = (1 - alpha) * face.astype(np.float32) + alpha * colour
    sep = np.full((side, 4, 3), 255, np.uint8)
    return np.concatenate([face, sep, np.clip(over, 0, 255).astype(np.uint8)], axis=1)


class FWADetector(Detector):
    name = "fwa"
    version = "1.0.0"
    media_kinds = ("image", "video")
    model_name = "fwa"
    description = ("Face-warping artefacts: a CNN trained on authentic faces and simulated warps looks for the "
                   "resolution mismatch that warping a synthesised face into a frame leaves.")
    method = ("Y. Li and S. Lyu, 'Exposing DeepFake Videos By Detecting Face Warping Artifacts', CVPR Workshops 2019; "
              "self-supervised training on simulated warps, per-face CAM heat maps.")

    def analyze(self, item, media) -> Finding:
        card = self.model_card()  # ModelUnavailable -> an "unavailable" finding (engine)
        arch, size = card.data["arch"], int(card.data["input_size"])
        model = card.load("weights", _load, arch)
        fa: FaceAnalysis = face_analysis(media)  # NoFaceError -> "not applicable" (engine)
        import torch

        torch.manual_seed(0)
        scores = score_tracks(model, arch, size, fa.tracks, FRAMES_PER_TRACK, with_cam=True)
        best = max(scores, key=lambda s: s.score)
        p = best.score
        artifacts = self._artifacts(scores, fa)
        if item.kind == "video" and len(fa.tracks) > 0:
            artifacts.append(self._series(scores))
        kind = "image" if fa.is_image else "video"
        n_frames = sum(len(s.probabilities) for s in scores)
        summary = (f"{len(scores)} face(s); highest P(warped) {p:.2f} for face {best.track_id}"
                   + (f" (mean of {len(best.probabilities)} frames, range {min(best.probabilities):.2f}–"
                      f"{max(best.probabilities):.2f})" if kind == "video" else "")
                   + ". Rule: mean over frames per face, maximum over faces.")
        details = {
            "rule": "per face: mean P(warped) over up to 32 evenly spaced frames; item: max over faces",
            "faces": [{"track_id": s.track_id, "score": round(s.score, 4), "frames_scored": len(s.probabilities),
                       "frame_indices": s.frame_indices, "probabilities": [round(x, 4) for x in s.probabilities]}
                      for s in scores],
            "frames_scored": n_frames,
            "arch": arch,
            "input_size": size,
            "face_pipeline": fa.summary(),
        }
        finding = self.ran(p, card=card, score=float(np.log(p / max(1 - p, 1e-12)) if p < 1 else 40.0),
                           summary=summary, details=details, artifacts=artifacts)
        if fa.is_image:  # error rate measured on images, where the card has one
            img = (card.data.get("metrics_by_kind") or {}).get("image")
            if img:
                finding.error_rate = {k: img[k] for k in ("auc", "eer", "accuracy", "threshold", "n_test",
                                                          "n_test_positive", "n_test_negative", "dataset",
                                                          "command") if k in img}
        return finding

    def _artifacts(self, scores: list[TrackScore], fa: FaceAnalysis) -> list[Artifact]:
        arts = []
        for s in sorted(scores, key=lambda s: -s.score)[:MAX_HEATMAP_FACES]:
            j = int(np.argmax(s.probabilities))
            img = heatmap_overlay(s.inputs[j], s.cams[j])
            when = f"frame {s.frame_indices[j]} ({s.times[j]:.2f} s)" if not fa.is_image else "the image"
            arts.append(Artifact.from_array(
                f"FWA heat map, face {s.track_id}", img, slug=f"fwa-face{s.track_id}",
                caption=(f"Left: the aligned face region the network saw ({when}; P(warped) "
                         f"{s.probabilities[j]:.2f}, face score {s.score:.2f}). Right: class-activation map "
                         "(coarse, from the last feature map): red areas push towards 'warped', blue towards "
                         "'authentic'. Warping artefacts tend to show along the face boundary.")))
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
        ax.set_ylabel("P(warped)")
        ax.legend(loc="upper right", fontsize=7)
        return figure_artifact(fig, "FWA per-frame probability", slug="fwa-series",
                               caption="P(warped) for each scored frame of each face track; the face score is the "
                                       "mean, the item score the highest face score.")


@hookimpl
def forensics_register_detectors():
    return [FWADetector()]


@hookimpl
def forensics_register_commands(cli, train):
    from .commands import register

    register(train)
