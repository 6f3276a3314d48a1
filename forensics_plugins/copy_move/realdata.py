"""Measure the copy-move detector on a real forgery set laid out as ``DIR/real/``, ``DIR/fake/`` and optionally
``DIR/masks/`` (a mask per fake, same file stem, white = copied). Only measured, never fitted on (cross-source)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from forensics.api import Calibrator, MediaError, open_media, roc_metrics

from .cmfd import detect_copy_move, pixel_scores

EXT = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"}


def _files(d: Path) -> list[Path]:
    return sorted(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in EXT) if d.is_dir() else []


def _mask_for(masks: Path, stem: str) -> np.ndarray | None:
    from PIL import Image

    for p in _files(masks):
        if p.stem == stem or p.stem.startswith(stem + "_") or p.stem.startswith(stem + "-"):
            with Image.open(p) as im:
                return np.asarray(im.convert("L")) > 127
    return None


def evaluate_real(root: Path, cal: Calibrator, echo: Callable[[str], None] = print) -> dict | None:
    """AUC (calibrated), share of images scored, mean pixel F1 / MCC where masks exist, for one folder."""
    real, fake = _files(root / "real"), _files(root / "fake")
    if not real or not fake:
        echo(f"  {root.name}: needs real/ and fake/ folders; skipped")
        return None
    y, p, f1, mcc, failed = [], [], [], [], 0
    for label, files in ((0, real), (1, fake)):
        for path in files:
            try:
                rgb = open_media(path).image_rgb()
            except (MediaError, OSError) as exc:
                failed += 1
                echo(f"  {path.name}: {exc}")
                continue
            r = detect_copy_move(rgb)
            y.append(label)
            p.append(float(cal(r.score)))
            if label == 1:
                m = _mask_for(root / "masks", path.stem)
                if m is not None and m.any():
                    ps = pixel_scores(r.mask_at(m.shape), m)
                    f1.append(ps["f1"])
                    mcc.append(ps["mcc"])
    out = roc_metrics(np.array(y), np.array(p))
    out.update({"name": root.name, "kind": "cross-source (never fitted on)", "scored_share":
                round(len(y) / max(1, len(y) + failed), 4),
                "pixel_f1_mean": round(float(np.mean(f1)), 4) if f1 else None,
                "pixel_mcc_mean": round(float(np.mean(mcc)), 4) if mcc else None, "masks": len(f1),
                "source": os.fspath(root.name)})
    echo(f"  {root.name}: AUC {out['auc']} (95 % CI {out['auc_ci95']}), {len(y)} images, pixel F1 "
         f"{out['pixel_f1_mean']} on {len(f1)} masks")
    return out
