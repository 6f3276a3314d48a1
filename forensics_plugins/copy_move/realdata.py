"""Measure the copy-move detector on a real forgery set laid out as :func:`forensics.api.read_forgery_set` reads it
(``DIR/real/``, ``DIR/fake/``, ``DIR/mask/<fake stem>.png``, kinds from ``MANIFEST.csv``), plus ``DIR/mask_srctgt/``
where the set has a second ground truth (copied source and pasted target, where ``mask/`` marks only the target).
Only measured, never fitted on (cross-source)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from forensics.api import (
    Calibrator,
    MediaError,
    forgery_set_evaluations,
    forgery_set_source,
    open_media,
    read_forgery_mask,
    read_forgery_set,
)

from .cmfd import detect_copy_move, pixel_scores

#: mask folders scored, with what their white pixels mean
MASK_SETS = {"mask": "pasted region", "mask_srctgt": "source + pasted region"}


def _mask(path: Path) -> np.ndarray | None:
    if not path.is_file():
        return None
    m = read_forgery_mask(path)
    return m if m.any() else None


def evaluate_real(root: Path, cal: Calibrator, echo: Callable[[str], None] = print) -> tuple[dict, dict] | None:
    """``(evaluations, summary)`` for one set: calibrated-probability AUC of all tampered files and of each kind
    against the authentic ones (:func:`forensics.api.forgery_set_evaluations`), and a summary with the share scored,
    the authentic files with a region marked, and mean pixel F1 / MCC per kind against each mask set present."""
    items = read_forgery_set(root)
    if not any(lab == 0 for _, lab, _, _ in items) or not any(lab == 1 for _, lab, _, _ in items):
        echo(f"  {root.name}: needs real/ and fake/ folders; skipped")
        return None
    y, p, kinds, failed, marked_authentic = [], [], [], 0, 0
    pixel: dict[str, dict[str, list[tuple[float, float]]]] = {m: {} for m in MASK_SETS}
    for path, label, kind, _ in items:
        try:
            rgb = open_media(path).image_rgb()
        except (MediaError, OSError) as exc:
            failed += 1
            echo(f"  {path.name}: {exc}")
            continue
        r = detect_copy_move(rgb)
        y.append(label)
        kinds.append(kind)
        p.append(float(cal(r.score)))
        if label == 0:
            marked_authentic += bool(r.share > 0)
            continue
        for folder in MASK_SETS:
            m = _mask(root / folder / (path.stem + ".png"))
            if m is not None:
                ps = pixel_scores(r.mask_at(m.shape), m)
                pixel[folder].setdefault(kind, []).append((ps["f1"], ps["mcc"]))
    src = forgery_set_source(root)
    what = f"real set {root.name} ({src}), never fitted on (it informed the verification design of 2.1.0-2.1.1: card, Limitations); {len(y)} of {len(items)} files scored"
    evaluations = forgery_set_evaluations(root.name, y, p, kinds, what, echo)
    localisation = {}
    for folder, per_kind in pixel.items():
        for kind, v in sorted(per_kind.items()):
            a = np.array(v)
            localisation[f"{kind} ({MASK_SETS[folder]})"] = {
                "n": len(v), "pixel_f1_mean": round(float(a[:, 0].mean()), 4),
                "pixel_mcc_mean": round(float(a[:, 1].mean()), 4)}
    summary = {"source": src, "files": len(items), "scored": len(y), "failed": failed,
               "authentic": int(np.sum(np.array(y) == 0)), "authentic_marked": marked_authentic,
               "localisation": localisation}
    echo(f"  {root.name}: {len(y)}/{len(items)} scored; authentic with a region marked {marked_authentic}; "
         + "; ".join(f"{k} F1 {v['pixel_f1_mean']:.3f} ({v['n']})" for k, v in localisation.items()))
    return evaluations, summary
