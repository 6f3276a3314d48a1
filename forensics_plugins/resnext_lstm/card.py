"""The ResNeXt-LSTM model card: template fields for :func:`forensics.api.write_model_card`.

:func:`card_fields` turns what training recorded (config, history, held-out predictions) into the
fields of the one model-card template (title, status, metrics with the bootstrap AUC interval,
data sources, sections, limitations). :func:`refresh_card` recomputes the headline figure and its
95 % interval from the held-out predictions stored in an existing card and rewrites the card, so
a card written before the interval existed states it (``python benchmarks/resnext_lstm_ci.py``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

TITLE = "ResNeXt-LSTM video detector (`resnext_lstm`)"
METHOD = ("ResNeXt-50 (32×4d) frame features (Xie et al., CVPR 2017) + LSTM over face-crop sequences, after Güera "
          "& Delp, 'Deepfake Video Detection Using Recurrent Neural Networks', AVSS 2018; Grad-CAM heat map "
          "(Selvaraju et al., ICCV 2017).")
FACE_VIDEO = {
    "name": "face_video (project shared data)", "role": "training + held-out test (split by identity)",
    "source": "FaceForensics++ c40 clips as collected in the project's shared data (`face_video/real`, "
              "`face_video/fake`; source repository and path per file in its MANIFEST.csv)",
    "licence": "FaceForensics++ terms of use: research / non-commercial",
    "label": "FaceForensics++ folder: original_sequences = authentic, manipulated_sequences/<method> = manipulated",
}
_MACHINE = re.compile(r"[^\s,;()`'\"]*/data/")


def portable(text: str) -> str:
    """Replace absolute data paths (``/home/x/shared/data/face_video``) by ``$DATA/face_video``."""
    return _MACHINE.sub("$DATA/", text) if isinstance(text, str) else text


def headline_metrics(test_items: list[dict], dataset: str, command: str, kind: str = "in-source",
                     resamples: int = 2000) -> dict[str, Any]:
    """ROC figures with the bootstrap 95 % AUC interval from stored held-out predictions.

    ``probability`` (calibrated) is used for accuracy at 0.5; the AUC and its interval do not depend
    on the (monotonic) calibration.
    """
    from forensics.api import roc_metrics

    y = np.array([int(r["label"]) for r in test_items])
    s = np.array([float(r["score"]) for r in test_items])
    p = np.array([float(r.get("probability", r["score"])) for r in test_items])
    m = roc_metrics(y, p, ci_resamples=0)  # accuracy, confusion, ECE of the reported probability
    ranked = roc_metrics(y, s, ci_resamples=resamples)  # the stored probabilities are rounded: rank the raw score
    m.update({k: ranked[k] for k in ("auc", "auc_ci95", "eer")})
    m.update({"dataset": dataset, "command": command, "kind": kind, "level": "video"})
    return m


def useful(metrics: dict[str, Any]) -> tuple[bool, str]:
    from forensics.api import useful_level

    return useful_level(metrics, "held-out videos", require="cross")


def card_fields(card: dict[str, Any]) -> dict[str, Any]:
    """Add the template's fields (title, status, data, sections, limitations) to a trained card dict."""
    t, m, c = card.get("training", {}), card.get("metrics", {}), card.get("config", {})
    ok, figure = useful(m)
    card["title"] = TITLE
    card["detector"] = "forensics_plugins.resnext_lstm:ResNeXtLSTMDetector"
    card["method"] = METHOD
    card["summary"] = ("Face-crop sequences from the shared face pipeline → ResNeXt-50 per frame → LSTM → mean over "
                       "time → dropout → linear(2) → softmax P(manipulated); Platt-calibrated.")
    card["status"] = ("**Votes**: " + figure if ok else
                      f"**Not trained to a useful level — the detector reports *unavailable* and does not vote.** "
                      f"Measured: {figure}. It scores only when trained weights reach a cross-source AUC whose 95 % "
                      "interval excludes 0.5 (issue 17); until then it costs nothing at analysis time (no face "
                      "crops, no weight load).")
    card["data"] = [dict(FACE_VIDEO, count=t.get("n_train", 0) + t.get("n_test", 0))]
    if t.get("self_supervised"):
        card["data"].append(t["self_supervised"]["data"])
    if m.get("command"):
        card.setdefault("training", {})["command"] = m["command"]
    if m.get("dataset"):
        m["dataset"] = portable(m["dataset"])
    p = card.get("parameters", {})
    spread = card.get("score_spread_test")
    sections = [
        {"title": "Training — read this before trusting any number", "body": "\n".join([
            f"- Trained on {t.get('device', '?')} ({t.get('torch_threads', '?')} threads), "
            f"{t.get('epochs_completed', '?')} whole epoch(s) of {t.get('n_train', '?')} videos "
            f"({t.get('n_train_manipulated', '?')} manipulated), {t.get('steps_total', '?')} optimiser steps, "
            f"{t.get('train_seconds', 0):.0f} s (time limit reached: {t.get('stopped_early_by_time_limit')}).",
            "- **No pretrained weights**: no ResNeXt ImageNet weights are available offline, so the backbone starts "
            "from random initialisation. A 23 M-parameter CNN trained from scratch on a few dozen clips cannot learn "
            "a general deepfake detector.",
            f"- Recipe: Adam lr {t.get('lr')}, weight decay {t.get('weight_decay')}, batch {t.get('batch_size')}, "
            f"class-weighted cross-entropy {t.get('balance')}, sequence length {t.get('seq_len')}, flip "
            f"{t.get('flip')}, seed {t.get('seed')}.",
            f"- Parameters: backbone {p.get('backbone', 0):,}, LSTM {p.get('lstm', 0):,}, linear "
            f"{p.get('linear', 0):,}; LSTM width {c.get('hidden')} (the seed's 2048 would make a ≈113 MB fp16 file); "
            f"weights {card.get('weights_mb')} MB fp16.",
            f"- Training files: {', '.join(t.get('train_files', []))}",
            f"- Held-out files: {', '.join(t.get('test_files', []))}",
        ])},
        {"title": "Evaluation notes", "body": "\n".join([
            "- The held-out videos are other identities from the **same** source (FaceForensics++ c40): an "
            "in-source figure. Platt scaling was fitted on those same videos (no separate validation set at this "
            "size), so accuracy at 0.5 is optimistic; the AUC and its interval do not depend on it.",
            f"- Spread of the raw score over the held-out videos: {spread if spread is not None else 'n/a'}"
            + (" — **the output is essentially constant**: the model has not learned to separate the classes."
               if spread is not None and spread < 0.02 else "."),
            "- The interval is a percentile bootstrap over videos, stratified by class "
            "(`forensics.api.roc_metrics`); recompute it from the stored predictions with "
            "`python benchmarks/resnext_lstm_ci.py`.",
        ])},
        {"title": "How to train it for real (GPU)", "body": "\n".join([
            "Self-supervised first (real clips only, as issue 17 describes), then the labelled videos:",
            "",
            "    forensics train resnext-lstm --data $DATA/face_video --self-blend $DATA/face_real_videos "
            "--device cuda --epochs 20 --batch-size 8",
            "",
            "`--self-blend DIR` adds, per epoch, one self-blended and one untouched sequence for every real clip in "
            "DIR: the clip blended with a transformed copy of itself through **one** mask for the whole sequence "
            "(landmark convex hull, deformed and blurred), with colour/affine jitter that drifts smoothly across "
            "frames (`forensics_plugins/resnext_lstm/selfblend.py`). The labelled videos still give the held-out "
            "figure; use a source the model never trained on for it (cross-source).",
        ])},
    ]
    if card.get("notes_md"):
        sections.append({"title": "Earlier measurements", "body": card["notes_md"].strip().replace("## ", "### ")})
    card["sections"] = sections
    card["limitations"] = [
        "Only the largest face track is analysed; faces the dlib HOG detector misses (profile, small, occluded) are "
        "not seen.",
        "Trained and measured on heavily compressed FaceForensics++ c40 clips only; the authentic set includes DFD "
        "actor clips that have no fakes here, so scene type is partly confounded with the label.",
        "Grad-CAM shows where the model looked, not where a manipulation is.",
    ]
    return card


def refresh_card(model_dir: Path, resamples: int = 2000, write: bool = True) -> dict[str, Any]:
    """Recompute ``metrics`` (with ``auc_ci95``) from the card's stored held-out predictions; rewrite the card.

    When the card holds no predictions the interval is unknown, which the gate treats as "not useful".
    """
    from forensics.api import write_model_card

    card = json.loads((Path(model_dir) / "card.json").read_text(encoding="utf-8"))
    old = card.get("metrics") or {}
    command = portable(old.get("command", ""))
    items = card.get("test_items") or []
    if items and len({int(r["label"]) for r in items}) == 2:
        card["metrics"] = headline_metrics(items, portable(old.get("dataset", "")), command, resamples=resamples)
    else:
        card["metrics"] = {**old, "auc_ci95": None, "command": command,
                           "ci_note": "no stored held-out predictions: the 95 % interval is unknown"}
    card.pop("_signature", None)
    card = card_fields(card)
    if write:
        write_model_card(model_dir, card)
    return card
