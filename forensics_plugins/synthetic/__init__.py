"""Synthetic-image detector plugin: is the whole image generated (GAN / diffusion)?

Cues on the image resized to the detector's input (:func:`.features.canonical`), the set named by the model
(default: SRM-style residual co-occurrences, multi-scale statistics of frozen ImageNet EfficientNet-Lite0
stages, and neighbouring-pixel relationships); each a linear model (fitted with the directions between real
photo collections projected out), combined (unweighted mean or a stacker)
and Platt-calibrated on leave-one-generator-out scores (:mod:`.train`). The report gets a per-window heat map
(the same cues on overlapping windows) and the noise residual's spectral evidence as a plot. When the card's cross-source AUC
interval includes 0.5 the finding is *inconclusive* and carries the maps, never a probability.
"""

from __future__ import annotations

import json

import numpy as np

from forensics.api import Artifact, Detector, Finding, hookimpl

MIN_SIDE = 64
HEATMAP_SHORT_SIDE = 320


def _load(path):
    """Model JSON + the frozen backbone, built once per weights hash (cached by :meth:`ModelCard.load`)."""
    import torch

    from forensics.api import imagenet_lite0

    from .model import SyntheticModel

    model = SyntheticModel.from_json(json.loads(open(path, encoding="utf-8").read()))
    torch.manual_seed(0)
    return model, imagenet_lite0()


WINDOW = 128
STRIDE = 64


def window_scores(x: np.ndarray, feats: dict, model) -> np.ndarray:
    """The combined score of the model's cues on each overlapping ``WINDOW``-px window (stride ``STRIDE``) of
    the detector input, as a grid. Pixel cues are recomputed on the window; the backbone cues use the whole
    input's feature maps, restricted to the part under the window (one forward pass for the whole map). A
    window is smaller than the input the models were fitted on, so the values compare with each other, not
    with the image's own score."""
    from .features import npr_features, residual_features, spectral_features, stage_statistics

    h, w = x.shape[:2]
    win = min(WINDOW, h, w)
    ys = list(range(0, max(h - win, 0) + 1, STRIDE)) or [0]
    xs = list(range(0, max(w - win, 0) + 1, STRIDE)) or [0]
    need = set(model.cue_names)
    out = np.zeros((len(ys), len(xs)))
    fmap = feats["probe_map"]
    for i, y0 in enumerate(ys):
        for j, x0 in enumerate(xs):
            patch = np.ascontiguousarray(x[y0:y0 + win, x0:x0 + win])
            box = (y0 / h, x0 / w, (y0 + win) / h, (x0 + win) / w)
            f = {}
            if "blocks" in need:
                f["blocks"] = stage_statistics(feats["stages"], box)
            if "probe" in need:
                f["probe"] = stage_statistics([fmap], box)[:fmap.shape[0]]
            if "residual" in need:
                f["residual"] = residual_features(patch)
            if "npr" in need:
                f["npr"] = npr_features(patch)
            if "spectral" in need:
                f["spectral"] = spectral_features(patch)[0]
            out[i, j] = model.stacked(model.cue_logits(f))
    return out


def heatmap_overlay(rgb: np.ndarray, cell_logits: np.ndarray, short_side: int = HEATMAP_SHORT_SIDE) -> np.ndarray:
    """``[image | overlay]``: red cells push towards 'generated', blue towards 'real' (symmetric scale)."""
    import cv2

    h, w = rgb.shape[:2]
    s = short_side / min(h, w)
    W, H = int(round(w * s)), int(round(h * s))
    img = cv2.resize(rgb, (W, H), interpolation=cv2.INTER_CUBIC)
    c = cv2.resize(cell_logits.astype(np.float32), (W, H), interpolation=cv2.INTER_CUBIC)
    v = float(np.abs(c).max()) or 1.0
    t = np.clip(c / v, -1, 1)
    colour = np.zeros_like(img, dtype=np.float32)
    colour[..., 0] = np.clip(t, 0, 1) * 255
    colour[..., 2] = np.clip(-t, 0, 1) * 255
    alpha = 0.55 * np.abs(t)[..., None]
    over = (1 - alpha) * img.astype(np.float32) + alpha * colour
    sep = np.full((H, 4, 3), 255, np.uint8)
    return np.concatenate([img, sep, np.clip(over, 0, 255).astype(np.uint8)], axis=1)


def spectral_plot(profile: np.ndarray, whitened: np.ndarray, reference: dict, peaks: int = 10) -> Artifact:
    """Left: this image's azimuthal residual spectrum against the training references; right: whitened 2-D spectrum."""
    from forensics.api import figure, figure_artifact

    from .features import RADIAL_BINS, _radius

    fig = figure(8.0, 3.2)
    fig.set_layout_engine("none")  # fixed axes: the constrained-layout pass was most of the detector's time
    ax = fig.add_axes((0.08, 0.15, 0.4, 0.75))
    f = (np.arange(RADIAL_BINS) + 0.5) / RADIAL_BINS
    prof = profile - profile.mean()
    for key, colour, label in (("real", "tab:blue", "real (training)"), ("fake", "tab:red", "generated (training)")):
        m, sd = reference.get(f"{key}_mean"), reference.get(f"{key}_sd")
        if m:
            m, sd = np.asarray(m), np.asarray(sd)
            ax.plot(f, m, color=colour, linewidth=1, label=f"{label}, n={reference.get('n_' + key)}")
            ax.fill_between(f, m - sd, m + sd, color=colour, alpha=0.15, linewidth=0)
    ax.plot(f, prof, color="black", linewidth=1.6, label="this image")
    ax.set_xlabel("spatial frequency (1 = Nyquist)")
    ax.set_ylabel("log power, mean removed")
    ax.set_title("azimuthal average of the noise-residual spectrum", fontsize=8)
    ax.legend(fontsize=6, loc="lower left")
    ax2 = fig.add_axes((0.56, 0.15, 0.42, 0.75))
    n = whitened.shape[0]
    rad = _radius(n)
    shown = np.where((rad > 0.1) & (rad < 1.0), whitened, 0.0)
    ax2.imshow(np.clip(shown, -3, 8), cmap="magma", extent=(-1, 1, 1, -1), vmin=-3, vmax=8, interpolation="nearest")
    flat = np.argsort(shown.ravel())[-peaks:]
    yy, xx = np.unravel_index(flat, shown.shape)
    ax2.scatter((xx - n / 2) / (n / 2), (yy - n / 2) / (n / 2), s=40, facecolors="none", edgecolors="cyan",
                linewidths=0.8)
    ax2.set_title(f"whitened 2-D spectrum; {peaks} strongest peaks circled", fontsize=8)
    ax2.set_xticks([-1, 0, 1])
    ax2.set_yticks([-1, 0, 1])
    return figure_artifact(fig, "Spectral evidence (noise residual)", slug="synthetic-spectrum",
                           caption=("Left: this image's residual power spectrum, averaged over rings of equal "
                                    "frequency, against the mean ± 1 SD of the real and generated training images "
                                    "(after the same re-encoding). Up-sampling in generators tends to change the "
                                    "high-frequency end. Right: log power minus its ring median, in robust SD units; "
                                    "isolated bright points off the axes are periodic traces (up-sampling grids). "
                                    "Camera photos show peaks too (JPEG 8×8 grid at ±1/4, ±1/2, resampling); read "
                                    "the plot with the score and the heat map."))


class SyntheticDetector(Detector):
    name = "synthetic"
    version = "2.1.0"
    media_kinds = ("image",)
    model_name = "synthetic"
    description = ("Fully generated images (GAN / diffusion): noise-residual statistics, multi-scale statistics "
                   "of frozen ImageNet features and neighbouring-pixel relationships, combined and calibrated "
                   "leave-one-generator-out; spectral evidence of up-sampling as a plot.")
    method = ("Residual cue: Fridrich & Kodovsky, IEEE TIFS 2012 (SRM co-occurrences); multi-scale probe on frozen "
              "EfficientNet-Lite0 ImageNet stages (after Ojha et al. CVPR 2023); NPR: Tan et al. CVPR 2024; spectral "
              "plot: Durall et al. CVPR 2020, Frank et al. ICML 2020, Dzanic et al. NeurIPS 2020; ridge cue models, "
              "nuisance-attribute projection of the directions between real photo collections, unweighted combination, "
              "Platt calibration.")

    def analyze(self, item, media) -> Finding:
        card = self.model_card()  # ModelUnavailable -> "unavailable" (engine)
        model, backbone = card.load("weights", _load)
        rgb = media.image_rgb()
        h, w = rgb.shape[:2]
        if min(h, w) < MIN_SIDE:
            return self.inconclusive(f"image is only {w}×{h} pixels; the detector needs at least {MIN_SIDE} on "
                                     "each side", card=card)
        from .features import canonical, image_features

        x = canonical(rgb)
        feats = image_features(x, backbone, keep_maps=True)
        logits = model.cue_logits(feats)
        z = model.stacked(logits)
        p = model.probability(z)
        cells = window_scores(x, feats, model)
        artifacts = [
            Artifact.from_array("Synthetic-image heat map (per-window score)", heatmap_overlay(x, cells),
                                slug="synthetic-heatmap",
                                caption=(f"Left: the part of the image the detector saw ({x.shape[1]}×{x.shape[0]} px: the "
                                         "central crop after shrinking the shorter side to at most 512 px). "
                                         f"Right: the detector's cues applied to each overlapping {WINDOW}-px "
                                         f"window (stride {STRIDE}; {cells.shape[1]}×{cells.shape[0]} windows): red "
                                         "windows score towards 'generated', blue towards 'real' (the models were "
                                         "fitted on whole inputs, so compare windows with each other rather than "
                                         "with the image's own score). A wholly generated image tends to be red "
                                         "throughout; a compact red area in a blue image suggests a generated "
                                         "insert, which this detector was not trained for.")),
            spectral_plot(feats["profile"], feats["whitened"], model.reference),
        ]
        from .features import SPECTRAL_NAMES

        spec = dict(zip(SPECTRAL_NAMES, feats["spectral"]))
        details = {
            "input_size": [int(x.shape[1]), int(x.shape[0])],
            "original_size": [int(w), int(h)],
            "cue_logits": {c: round(logits[c], 4) for c in model.cue_names},
            "stacked_logit": round(z, 4),
            "stack_weights": {c: round(float(v), 4) for c, v in zip(model.cue_names, model.stack.coef)},
            "heatmap_cells": {"shape": list(cells.shape), "max_logit": round(float(cells.max()), 4),
                              "min_logit": round(float(cells.min()), 4),
                              "share_towards_generated": round(float((cells > 0).mean()), 4)},
            "spectral_peaks": {k: round(float(spec[k]), 4) for k in ("peak_max", "peak_top10", "peak_count5",
                                                                      "axis_ratio", "decay_slope")},
            "cross_source_by_domain": {d: {"auc": r["stacked"]["auc"], "auc_ci95": r["stacked"]["auc_ci95"],
                                           "generators": r.get("generators")}
                                       for d, r in (card.data.get("by_domain") or {}).items()},
            "rule": (("unweighted mean" if model.meta.get("stack") == "mean" else "stacked logistic regression")
                     + f" of the cue scores ({', '.join(model.cue_names)}), Platt-calibrated on "
                     "leave-one-generator-out scores"),
        }
        cues_txt = ", ".join(f"{c} {logits[c]:+.2f}" for c in model.cue_names)
        from .model import voting_gate

        ok, figure = voting_gate(card.metrics, ((card.data.get("format_baseline") or {}).get("logo") or {}).get("auc"))
        if not ok or p is None or not model.calibrator.informative:
            why = f"cross-source {figure}" if not ok else (
                "the model has no calibrator" if p is None else
                f"the calibrator is uninformative ({model.calibrator.note})")
            return self.inconclusive(
                f"{why}: the detector does not vote. Maps and cue values are shown for inspection "
                f"(cue logits: {cues_txt}).", card=card, details=details, artifacts=artifacts, score=z)
        summary = (f"P(fully generated) {p:.2f} (stacked logit {z:+.2f}; cue logits: {cues_txt}); "
                   f"{100 * details['heatmap_cells']['share_towards_generated']:.0f} % of the heat-map cells point "
                   "towards 'generated'. Not trained for partly edited images.")
        return self.ran(p, card=card, score=z, summary=summary, details=details, artifacts=artifacts)


@hookimpl
def forensics_register_detectors():
    return [SyntheticDetector()]


@hookimpl
def forensics_register_commands(cli, train):
    from .commands import register

    register(train)
