"""Which eye crops the cross-source eye-state CNN gets wrong, and what they have in common.

Reruns exactly one cross-source run of ``forensics train blink-lrcn`` (``train.cross_source_run``: a CNN trained
without one source family, calibrated on the other families' held-out split, measured on all of the held-out
family) and breaks its errors down:

* by error type (open called closed / closed called open) and by source folder and sub-folder;
* sharpness by source and label over all samples (the eye-crop source's open eyes are about twice as sharp as
  its closed ones; most face-cut eyes are blurrier than either);
* by crop descriptors, in quantile bins: EAR from the landmarks, colour saturation (grey vs colour), brightness,
  contrast, sharpness (variance of the Laplacian of the 32×32 crop), face size in the original image
  (inter-ocular distance, pixels);
* per face: how often both eyes of a face are wrong together (a face-level cause: squint, gaze down, a doubtful
  folder label) rather than one eye; accuracy per face with the mean P of both eyes (how the detector decides),
  and without the open-labelled faces whose mean EAR is below the blink rule's threshold (diagnostics only);
* the calibration: accuracy at P ≥ 0.5 against the best single threshold on the measured set. That last figure
  is a diagnostic upper bound, never a result: choosing the threshold on the measured source would be tuning on
  it.

Usage (from the folder holding ``data/``, with the trainer's own data options)::

    python benchmarks/eye_state_errors.py --data data/eye_state_eyecrop --open-faces data/face_image/real \\
        --open-faces data/face_real --closed-faces data/eye_state_face/closed \\
        --held "face images (both eyes)" --epochs 12 --seed 0 [--out DIR]

``--mode-p MODE=P`` and ``--low-res-px MIN MAX`` rerun the same with other augmentation settings (ablations);
``--seed`` shows how much the figure moves between seeds of one setting. Without ``--out`` nothing is written.

With ``--out`` it also writes ``crops.csv`` (every measured crop: file, label, P(closed), descriptors) and
``errors_<type>.png`` montages of the most confident errors (for a person to look at; labels still come only
from the folders).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np


def descriptors(samples, idx: np.ndarray, cache_dir: Path | None) -> dict[str, np.ndarray]:
    """Per-crop descriptors of ``samples[idx]`` (see the module docstring)."""
    from forensics_plugins.blink_lrcn.train import sharpness

    crops = samples.crops[idx]
    colour = samples.colour[idx].astype(np.float32)
    grey = crops.astype(np.float32)
    lap = sharpness(crops)
    out = {
        "ear": samples.ear[idx],
        "saturation": (colour.max(-1) - colour.min(-1)).mean((1, 2)) / 255.0,
        "brightness": grey.mean((1, 2)) / 255.0,
        "contrast": grey.std((1, 2)) / 255.0,
        "sharpness": lap,
        "iod_px": face_sizes(samples, idx, cache_dir),
    }
    return out


def face_sizes(samples, idx: np.ndarray, cache_dir: Path | None) -> np.ndarray:
    """Inter-ocular distance of each crop's face in its original image (pixels; nan for eye-crop sources)."""
    from forensics_plugins.blink_lrcn.data import aligned_face, load_rgb
    from forensics_plugins.blink_lrcn.eyes import eye_centres

    out = np.full(len(idx), np.nan)
    if samples.files is None:
        return out
    memo: dict[str, float] = {}
    for k, i in enumerate(idx):
        f = str(samples.files[i])
        if not np.isfinite(samples.ear[i]):
            continue
        if f not in memo:
            af = aligned_face(Path(f), cache_dir) if Path(f).is_file() else None
            if af is None:
                memo[f] = np.nan
            else:
                h, w = load_rgb(Path(f)).shape[:2]
                up = max(1.0, 240.0 / max(h, w))  # data._prepare_face_image's upscaling
                cr, cl = eye_centres(af[2])
                memo[f] = float(np.hypot(*(cl - cr))) / up
        out[k] = memo[f]
    return out


def sub_folder(file: str, source: str) -> str:
    """``source`` plus the first folder under it (``data/face_real/lfw``), else ``source``."""
    parts = Path(file).parts
    top = source.split("/")[-1]
    if top in parts:
        rest = parts[parts.index(top) + 1:]
        if len(rest) > 1:
            return f"{source}/{rest[0]}"
    return source


def binned(name: str, v: np.ndarray, y: np.ndarray, wrong: np.ndarray, bins: int = 5) -> list[str]:
    ok = np.isfinite(v)
    if ok.sum() < bins * 4:
        return []
    lines = [f"  {name}: error rate by quantile bin (open | closed)"]
    edges = np.unique(np.quantile(v[ok], np.linspace(0, 1, bins + 1)))
    for a, b in zip(edges[:-1], edges[1:]):
        sel = ok & (v >= a) & ((v < b) | (b == edges[-1]))
        cells = []
        for lab in (0, 1):
            s = sel & (y == lab)
            cells.append(f"{wrong[s].mean():6.3f} of {int(s.sum()):5d}" if s.any() else f"{'-':>6} of     0")
        lines.append(f"    [{a:9.4f}, {b:9.4f}]  " + " | ".join(cells))
    return lines


def report(samples, held_idx: np.ndarray, p: np.ndarray, desc: dict[str, np.ndarray]) -> list[str]:
    y = samples.labels[held_idx]
    call = (p >= 0.5).astype(int)
    wrong = call != y
    lines = [f"measured {len(y)} crops of {len(np.unique(samples.groups[held_idx]))} images: accuracy "
             f"{1 - wrong.mean():.4f}; open called closed {int((wrong & (y == 0)).sum())} of {int((y == 0).sum())}, "
             f"closed called open {int((wrong & (y == 1)).sum())} of {int((y == 1).sum())}"]
    # calibration: the P >= 0.5 threshold against the best single threshold on this set (diagnostic only)
    order = np.sort(np.unique(p))
    cand = np.concatenate([[0.0], (order[:-1] + order[1:]) / 2, [1.0]]) if len(order) > 1 else np.array([0.5])
    cand = cand[:: max(1, len(cand) // 2000)]
    accs = np.array([((p >= t).astype(int) == y).mean() for t in cand])
    t_best = float(cand[int(accs.argmax())])
    lines.append(f"best single threshold on the measured set (diagnostic upper bound, never used): accuracy "
                 f"{accs.max():.4f} at P >= {t_best:.3f} (at 0.5: {1 - wrong.mean():.4f})")
    for t in (0.3, 0.4, 0.6, 0.7, 0.8):
        lines.append(f"  at P >= {t}: accuracy {((p >= t).astype(int) == y).mean():.4f}")
    subs = np.array([sub_folder(str(samples.files[i]), str(samples.sources[i])) if samples.files is not None
                     else str(samples.sources[i]) for i in held_idx])
    lines.append("by source folder: wrong / crops (label)")
    for s in sorted(set(subs.tolist())):
        sel = subs == s
        lab = "closed" if y[sel].mean() > 0.5 else "open"
        lines.append(f"  {s:40s} {lab:6s} {int(wrong[sel].sum()):5d} / {int(sel.sum()):5d} = "
                     f"{wrong[sel].mean():.3f}; median P(closed) {np.median(p[sel]):.3f}")
    # per face: both eyes wrong vs one
    g = samples.groups[held_idx]
    lines.append("per face (both eyes of one image): faces with 0 / 1 / 2 eyes wrong")
    for lab, name in ((0, "open"), (1, "closed")):
        sel = y == lab
        gs, inv = np.unique(g[sel], return_inverse=True)
        nw = np.bincount(inv, weights=wrong[sel].astype(float)).astype(int)
        ne = np.bincount(inv)
        both = ne == 2
        lines.append(f"  {name:6s}: " + " / ".join(str(int(((nw == k) & both).sum())) for k in (0, 1, 2))
                     + f" (of {int(both.sum())} faces with both eyes)")
    # as the detector decides (mean P of both eyes of a face), and without the doubtful assumed-open labels
    gs, inv = np.unique(g, return_inverse=True)
    p_face = np.bincount(inv, weights=p) / np.bincount(inv)
    y_face = np.bincount(inv, weights=y) / np.bincount(inv) > 0.5
    lines.append(f"per face, mean P(closed) of its eyes (as the detector decides): accuracy "
                 f"{float(((p_face >= 0.5) == y_face).mean()):.4f} on {len(gs)} faces")
    from forensics_plugins.blink_lrcn.blinks import EAR_ABS_THRESHOLD

    ear_face = np.array([np.nanmean(desc["ear"][inv == k]) if np.isfinite(desc["ear"][inv == k]).any() else np.nan
                         for k in range(len(gs))])
    keep = (y == 1) | ~(ear_face[inv] < EAR_ABS_THRESHOLD)
    lines.append(f"without open-labelled faces whose mean EAR is below the blink rule's {EAR_ABS_THRESHOLD} (label "
                 f"doubtful; a diagnostic, not the measured figure): accuracy {1 - wrong[keep].mean():.4f} on "
                 f"{int(keep.sum())} crops ({int((~keep).sum())} left out)")
    for lab, name in ((0, "open eyes"), (1, "closed eyes")):
        sel = y == lab
        lines.append(f"descriptors, {name}: median of correct vs wrong")
        for k, v in desc.items():
            a, b = v[sel & ~wrong], v[sel & wrong]
            if np.isfinite(a).any() and np.isfinite(b).any():
                lines.append(f"  {k:11s} correct {np.nanmedian(a):9.4f}   wrong {np.nanmedian(b):9.4f}")
    for k, v in desc.items():
        lines += binned(k, v, y, wrong)
    return lines


def montage(samples, idx: np.ndarray, path: Path, cols: int = 16, scale: int = 3) -> None:
    import cv2

    if not len(idx):
        return
    tiles = []
    for i in idx:
        c = samples.colour[i][..., ::-1]
        g = np.repeat(samples.crops[i][..., None], 3, -1)
        tiles.append(cv2.resize(np.vstack([c, g]), None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST))
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[r:r + cols]) for r in range(0, len(tiles), cols)]
    cv2.imwrite(str(path), np.vstack(rows))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, action="append", default=[], help="eye crops in open/ and closed/")
    ap.add_argument("--faces", type=Path, action="append", default=[], help="face images in open/ and closed/")
    ap.add_argument("--open-faces", type=Path, action="append", default=[])
    ap.add_argument("--closed-faces", type=Path, action="append", default=[])
    ap.add_argument("--open-min-ear", type=float, default=0.15, help="as the trainer's option (0: keep all)")
    ap.add_argument("--held", default="face images (both eyes)", help="source family to hold out")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--epoch-size", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--holdout", type=float, default=0.2)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "forensics" / "blink_lrcn")
    ap.add_argument("--mode-p", action="append", default=[], metavar="MODE=P",
                    help="ablation: probability of one capture mode (ir_like, blur, low_light, low_res) instead of "
                         "the trainer's (repeatable)")
    ap.add_argument("--low-res-px", type=int, nargs=2, default=None, metavar=("MIN", "MAX"),
                    help="ablation: low_res target side range instead of the trainer's")
    ap.add_argument("--out", type=Path, default=None, help="write crops.csv and error montages here")
    ap.add_argument("--montage", type=int, default=128, help="most confident errors of each type to draw")
    args = ap.parse_args(argv)

    import torch

    from forensics_plugins.blink_lrcn import train as trainer
    from forensics_plugins.blink_lrcn.data import collect
    from forensics_plugins.blink_lrcn.train import cross_source_run, sharpness_by_stratum, source_families

    for kv in args.mode_p:
        mode, _, prob = kv.partition("=")
        if mode not in trainer.AUGMENT_MODES:
            print(f"unknown mode {mode!r}; have {trainer.AUGMENT_MODES}", file=sys.stderr)
            return 2
        trainer.MODE_P = {**trainer.MODE_P, mode: float(prob)}
    if args.low_res_px:
        trainer.LOW_RES_PX = tuple(args.low_res_px)
    torch.set_num_threads(1)
    samples = collect(args.data, args.faces, args.open_faces, args.closed_faces, args.cache, lambda m: None,
                      args.open_min_ear or None)
    fam = source_families(samples)
    print("sharpness (variance of the Laplacian of the 32x32 crop) by source and label, all samples: median "
          "[10 %, 90 %]")
    for src, v in sharpness_by_stratum(samples).items():
        print(f"  {src:28s} " + "; ".join(f"{k} {d['median']:7.1f} [{d['q10_q90'][0]:.1f}, {d['q10_q90'][1]:.1f}] "
                                          f"n {d['n']}" for k, d in v.items()))
    if args.held not in set(fam.tolist()):
        print(f"no source family {args.held!r}; have {sorted(set(fam.tolist()))}", file=sys.stderr)
        return 2
    run = cross_source_run(samples, args.held, args.epochs, args.seed, args.holdout, print,
                           args.epoch_size or None)
    if run is None:
        print("both sides need open and closed samples", file=sys.stderr)
        return 2
    record, p = run
    held_idx = np.flatnonzero(fam == args.held)
    desc = descriptors(samples, held_idx, args.cache)
    print(f"cross-source eye state, held out {args.held!r}, trained on {', '.join(record['trained_on'])}; "
          f"{args.epochs} epochs of {args.epoch_size} draws, seed {args.seed}; capture modes "
          + ", ".join(f"{m} p {trainer.MODE_P.get(m, trainer.AUGMENT_P)}" for m in trainer.AUGMENT_MODES)
          + f", low_res {trainer.LOW_RES_PX[0]}-{trainer.LOW_RES_PX[1]} px")
    print("\n".join(report(samples, held_idx, p, desc)))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        y = samples.labels[held_idx]
        with (args.out / "crops.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["file", "source", "group", "label", "p_closed", *desc])
            for k, i in enumerate(held_idx):
                w.writerow([samples.files[i] if samples.files is not None else "", samples.sources[i],
                            int(samples.groups[i]), int(y[k]), round(float(p[k]), 5),
                            *(round(float(v[k]), 5) for v in desc.values())])
        for lab, name in ((0, "open_called_closed"), (1, "closed_called_open")):
            sel = np.flatnonzero((y == lab) & ((p >= 0.5) != (y == 1)))
            conf = np.abs(p[sel] - 0.5)
            montage(samples, held_idx[sel[np.argsort(-conf)][:args.montage]], args.out / f"errors_{name}.png")
        print(f"wrote {args.out}/crops.csv and errors_*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
