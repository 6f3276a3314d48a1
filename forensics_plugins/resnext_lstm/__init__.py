"""ResNeXt-LSTM video detector plugin: face-crop sequences → ResNeXt-50 → LSTM → P(manipulated).

See :mod:`.model` for the architecture and :mod:`.train` for the recipe. At analysis
time the detector takes the largest face track from the shared face pipeline
(:func:`forensics.faces.face_analysis`), cuts up to :data:`WINDOWS` evenly spaced
windows of ``seq_len`` consecutive face crops (the model card's sequence length),
averages the model's softmax P(manipulated) over them, and maps that score to a
probability with the Platt calibration stored in the model card.

Voting gate: until the installed weights reach an AUC whose bootstrap 95 % interval
excludes 0.5 (``metrics.auc_ci95`` in the card), the detector reports *unavailable: not
trained to a useful level* with the measured figure, before any face crop or weight load. A Grad-CAM heat
map on a representative frame (the middle of the most "manipulated" window) shows
where in the face the model's evidence came from.

Device: CUDA when available (fp16 autocast), otherwise CPU (float32, so CPU results
are reproducible). ``FORENSICS_DEVICE=cpu|cuda|auto`` overrides; the finding records
which device ran it.
"""

from __future__ import annotations

import os

import numpy as np

from forensics.api import Artifact, Detector, Finding, hookimpl

WINDOWS = 3  # windows per video; the score is their mean
MIN_FRAMES = 10  # fewer face frames than this: inconclusive

def _device():
    from .model import pick_device

    return pick_device(os.environ.get("FORENSICS_DEVICE", "auto"))


def _load(path, config: str, device: str):
    """Build the network from hash-checked weights (cached by :meth:`ModelCard.load`)."""
    import json

    from .train import load_weights

    return load_weights(path, json.loads(config), device)


def _model(card, device):
    import json

    return card.load("weights", _load, json.dumps(card.data["config"], sort_keys=True), device)


def cam_overlay(crop: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a ``(h, w)`` map in [0, 1] (upsampled bicubically) over an RGB crop with the 'jet' colour map."""
    import cv2

    h, w = crop.shape[:2]
    up = np.clip(cv2.resize(cam.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC), 0, 1)
    colour = cv2.applyColorMap((up * 255).astype(np.uint8), cv2.COLORMAP_JET)[:, :, ::-1]
    return np.clip((1 - alpha) * crop.astype(np.float32) + alpha * colour.astype(np.float32), 0, 255).astype(np.uint8)


class ResNeXtLSTMDetector(Detector):
    name = "resnext_lstm"
    version = "1.1.0"
    media_kinds = ("video",)
    model_name = "resnext_lstm"
    description = "Sequence classifier over face crops: ResNeXt-50 per-frame features, LSTM over time."
    method = ("ResNeXt-50 (32×4d) frame features + LSTM over face-crop sequences (after Güera & Delp, 'Deepfake "
              "Video Detection Using Recurrent Neural Networks', AVSS 2018); Grad-CAM (Selvaraju et al., ICCV 2017) "
              "heat map; Platt-calibrated.")

    def not_useful_reason(self) -> tuple[str, dict] | None:
        """``(reason, details)`` when the installed model is not trained to a useful level, else ``None``.

        The rule (issue 17): the detector scores only when the card's headline AUC has a bootstrap 95 %
        interval (``metrics.auc_ci95``) that excludes 0.5. Read from ``card.json`` without touching the
        weights, so a model that may not vote costs nothing at analysis time. ``None`` as well when no
        card is installed: :meth:`model_card` then raises the usual "not installed" message.
        """
        from forensics.api import model_card_data, useful_level

        data = model_card_data(self.model_name)
        if data is None:
            return None
        metrics = data.get("metrics") or {}
        ok, figure = useful_level(metrics, "held-out videos", require="cross")
        if ok:
            return None
        keep = ("auc", "auc_ci95", "eer", "n_test", "n_test_positive", "n_test_negative", "dataset", "kind",
                "command")
        return (f"not trained to a useful level: {figure}. The detector gives no score until trained weights "
                "reach a cross-source AUC whose 95 % interval excludes 0.5 (see models/resnext_lstm/MODEL_CARD.md)",
                {"rule": "score only when the model card's AUC 95 % interval excludes 0.5",
                 "measured": {k: metrics[k] for k in keep if k in metrics},
                 "model_version": data.get("version")})

    def analyze(self, item, media) -> Finding:
        import torch

        from forensics.api import Calibrator, compat_info, face_analysis

        from .data import track_crops, window_starts
        from .train import score_windows

        gate = self.not_useful_reason()
        if gate is not None:  # decided from card.json alone: no face crops, no weights loaded or hashed
            media.video_info()  # a container probe only: an audio-only file is still "not applicable"
            return self.unavailable(gate[0], details=gate[1])
        card = self.model_card()  # ModelUnavailable -> an "unavailable" finding (engine)
        calibration = card.data["calibration"]
        seq_len = int(card.data["config"]["seq_len"])
        fa = face_analysis(media)  # NoFaceError -> "not applicable" (engine)
        crops, frame_idx, times, track_id = track_crops(fa)
        n = len(crops)
        base_details = {"face_track": track_id, "face_tracks": len(fa.tracks), "face_frames": n,
                        "sequence_length": seq_len, "face_pipeline": fa.summary()}
        if n < MIN_FRAMES:
            return self.inconclusive(f"the largest face track has only {n} frames; the model needs at least "
                                     f"{MIN_FRAMES}", card=card, details=base_details)
        starts = window_starts(n, seq_len, WINDOWS)
        windows = [crops[s:s + seq_len] for s in starts]
        device = _device()
        model = _model(card, device)
        probs, cams = score_windows(model, windows, device, amp=device.type == "cuda", with_cam=True)
        score = float(probs.mean())
        p = Calibrator.from_json(calibration)(score)

        # representative frame: middle of the window the model found most "manipulated"
        best = int(np.argmax(probs))
        mid = min(len(windows[best]) // 2, len(windows[best]) - 1)
        obs_i = starts[best] + mid
        obs = fa.largest_track.observations[obs_i]
        overlay = cam_overlay(np.asarray(obs.crop), cams[best][mid])
        artifacts = [Artifact.from_array(
            "ResNeXt-LSTM heat map (Grad-CAM)", np.concatenate([np.asarray(obs.crop), overlay], axis=1),
            slug="gradcam",
            caption=(f"Aligned face crop at frame {int(frame_idx[obs_i])} ({float(times[obs_i]):.2f} s), left, and "
                     f"Grad-CAM of the 'manipulated' output on the last convolutional layer ({cams[best].shape[1]}×"
                     f"{cams[best].shape[2]} cells, red = most influence), right. It shows where the model looked, "
                     "not where a manipulation is; it inherits the model's error rate."))]
        device_name = "cpu" if device.type == "cpu" else f"cuda ({torch.cuda.get_device_name(device)})"
        details = {
            **base_details,
            "device": device_name,
            "precision": "float16 autocast" if device.type == "cuda" else "float32",
            "windows": [{"first_frame": int(frame_idx[s]), "start_s": round(float(times[s]), 3),
                         "frames": len(w), "p_manipulated_raw": round(float(q), 6)}
                        for s, w, q in zip(starts, windows, probs)],
            "raw_score": round(score, 6),
            "calibration": calibration,
            "representative_frame": int(frame_idx[obs_i]),
            **({"torchvision_compat": compat_info()} if compat_info()["torchvision_shim"] else {}),
        }
        er = card.error_rate() or {}
        summary = (f"Mean softmax P(manipulated) {score:.3f} over {len(windows)} window(s) of up to {seq_len} face "
                   f"frames (track {track_id}, {n} frames; run on {device_name}); calibrated {p:.3f}.")
        if er.get("auc") is not None and er["auc"] < 0.7:
            summary += (f" The model's measured AUC is only {er['auc']:.2f} on {er.get('n_test', '?')} held-out "
                        "videos: treat this score as weak evidence.")
        return self.ran(p, card=card, score=score, summary=summary, details=details, artifacts=artifacts)


@hookimpl
def forensics_register_detectors():
    return [ResNeXtLSTMDetector()]


@hookimpl
def forensics_register_commands(cli, train):
    from .commands import register

    register(train)
