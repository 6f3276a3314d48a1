"""rPPG heart-rate accuracy of CHROM / POS / GREEN on skin-region clips with ground truth.

Usage: python benchmarks/rppg_hr.py [--data ../shared/data/rppg_roi_video] [--fs 30]

Reads every ``real_hr_gt/<set>_video<N>_<region>.avi`` clip (a forehead or cheek patch;
the whole frame is skin, so no face pipeline is involved), extracts the mean-colour
trace (:func:`forensics_plugins.rppg.signals.trace_from_video`), resamples it to the
fixed rate, runs each method over the whole clip and takes the heart rate at the
highest peak of the Welch spectrum (10 s segments) in 0.7-4 Hz. The ground truth is
the subject's average heart rate in ``ground_truth/<set>_GT.csv``.

Prints one line per clip, then the mean absolute error (bpm) per method and per
region, the share of clips within 5 bpm, and the same with the three regions of a
subject fused (median of the per-region estimates). Exits 0 with a message when the
data folder is absent (it is not part of the project).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from forensics_plugins.rppg.signals import FS, METHODS, clip_heart_rates, trace_from_video

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "rppg_roi_video"
CLIP = re.compile(r"^(?P<set>.+)_(?P<video>video\d+)_(?P<region>[a-z]+)$")


def read_ground_truth(folder: Path) -> dict[tuple[str, str], float]:
    gt = {}
    for p in sorted(folder.glob("*_GT.csv")):
        name = p.stem[: -len("_GT")]
        with open(p, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
        for row in rows[1:]:
            if len(row) >= 2 and row[0].strip():
                gt[(name, row[0].strip())] = float(row[1])
    return gt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("RPPG_ROI_DATA", DEFAULT)))
    ap.add_argument("--fs", type=float, default=FS, help="rate the traces are resampled to (Hz)")
    args = ap.parse_args()
    clips_dir, gt_dir = args.data / "real_hr_gt", args.data / "ground_truth"
    if not clips_dir.is_dir() or not gt_dir.is_dir():
        print(f"skipped: {args.data} not found (rPPG region clips with ground truth are not part of the project)")
        return 0
    gt = read_ground_truth(gt_dir)
    err = defaultdict(list)  # method -> abs errors
    err_region = defaultdict(list)  # (method, region) -> abs errors
    per_subject = defaultdict(lambda: defaultdict(list))  # (set, video) -> method -> estimates
    t0 = time.perf_counter()
    n = 0
    print(f"{'clip':<44} {'GT':>6} " + " ".join(f"{m:>7}" for m in METHODS) + "   (bpm)")
    for p in sorted(clips_dir.iterdir()):
        m = CLIP.match(p.stem)
        if not m or (m["set"], m["video"]) not in gt:
            continue
        truth = gt[(m["set"], m["video"])]
        t, rgb, fps = trace_from_video(str(p))
        est = clip_heart_rates(t, rgb, args.fs)
        n += 1
        for meth in METHODS:
            hr = est[meth]["hr_bpm"]
            err[meth].append(abs(hr - truth))
            err_region[(meth, m["region"])].append(abs(hr - truth))
            per_subject[(m["set"], m["video"])][meth].append(hr)
        print(f"{p.stem[-44:]:<44} {truth:6.1f} " + " ".join(f"{est[x]['hr_bpm']:7.1f}" for x in METHODS)
              + f"   {len(t)} frames @ {fps:g} fps")
    if not n:
        print(f"skipped: no clips with ground truth in {clips_dir}")
        return 0
    print(f"\n{n} clips, {len(per_subject)} subjects, {time.perf_counter() - t0:.1f} s")
    print("heart-rate MAE per method (bpm), all clips:")
    for meth in METHODS:
        e = np.array(err[meth])
        print(f"  {meth:<6} MAE {e.mean():5.1f}  median {np.median(e):5.1f}  RMSE {np.sqrt((e ** 2).mean()):5.1f}  "
              f"within 5 bpm {100 * (e <= 5).mean():4.0f} %")
    regions = sorted({r for _, r in err_region})
    print("MAE by region: " + "; ".join(
        f"{r}: " + ", ".join(f"{meth} {np.mean(err_region[(meth, r)]):.1f}" for meth in METHODS) for r in regions))
    print("subject level (median over the subject's region clips):")
    for meth in METHODS:
        e = np.array([abs(np.median(v[meth]) - gt[k]) for k, v in per_subject.items()])
        print(f"  {meth:<6} MAE {e.mean():5.1f} over {len(e)} subjects")
    base = np.array([abs(np.median(list(gt.values())) - gt[k]) for k in per_subject])
    print(f"reference: always guessing the median ground-truth HR ({np.median(list(gt.values())):.1f} bpm) "
          f"gives MAE {base.mean():.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
