"""Scale-out: files per second of ``forensics analyze`` with 1 and 2 local workers (and optionally Ray).

Generates a case of JPEG photos (scikit-image's public-domain sample images, re-saved at several
qualities and crops, some with a pasted region) and short face clips, then runs the whole analysis (every
installed detector) once per setting, each in the same process:

* ``1``: in this process (``forensics analyze CASE``);
* ``N`` (``--workers``): a local process pool (``--executor local --workers N``);
* ``ray:N`` (``--ray``): Ray actors on a local Ray started for the run (``--executor ray --workers N``).

It prints files/s and the speed-up per setting, and checks that every setting gives the same findings as the
in-process run (run block aside). Worker start-up (importing torch, loading models) is included: it is what a
case pays; on small cases it dominates.

Usage::

    python benchmarks/scale.py [--images 16] [--videos 2] [--workers 1 2] [--ray] [-d DETECTOR ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_case(root: Path, n_images: int, n_videos: int) -> int:
    import io

    import skimage.data
    from PIL import Image

    from forensics.demo import write_mp4

    root.mkdir(parents=True, exist_ok=True)
    sources = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea(), skimage.data.rocket()]
    rng = np.random.default_rng(0)
    for i in range(n_images):
        src = sources[i % len(sources)]
        h, w = src.shape[:2]
        y, x = int(rng.integers(0, h // 4)), int(rng.integers(0, w // 4))
        img = src[y:y + 3 * h // 4, x:x + 3 * w // 4].copy()
        if i % 3 == 2:  # a pasted region
            ph, pw = img.shape[0] // 4, img.shape[1] // 4
            img[10:10 + ph, 10:10 + pw] = sources[(i + 1) % len(sources)][:ph, :pw]
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=int(70 + 5 * (i % 5)))
        (root / f"photo_{i:03d}.jpg").write_bytes(buf.getvalue())
    head = skimage.data.astronaut()[0:256, 100:356]
    for v in range(n_videos):
        frames = []
        for k in range(45):
            f = np.full((300, 400, 3), 110 + 10 * v, np.uint8)
            f[22:278, 40 + 2 * k:296 + 2 * k] = head
            frames.append(f)
        write_mp4(root / f"clip_{v:02d}.mp4", iter(frames), fps=15, codec="mpeg4")
    return n_images + n_videos


def _differences(a, b, path: str = "") -> list[str]:
    """Paths (item/.../key) where two findings documents differ."""
    if type(a) is not type(b):
        return [path or "/"]
    if isinstance(a, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _differences(a.get(k), b.get(k), f"{path}/{k}") if k in a and k in b else [f"{path}/{k}"]
        return out
    if isinstance(a, list):
        if len(a) != len(b):
            return [f"{path} (length)"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [path]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--videos", type=int, default=2)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--ray", action="store_true", help="also run Ray with the largest worker count")
    ap.add_argument("-d", "--detector", action="append", help="only these detectors (default: all installed)")
    args = ap.parse_args(argv)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

    from forensics.engine import analyze_case
    from forensics.executors import LocalExecutor, RayExecutor

    with tempfile.TemporaryDirectory() as tmp:
        case = Path(tmp) / "case"
        n = make_case(case, args.images, args.videos)
        settings = [(str(w), LocalExecutor(w) if w > 1 else None) for w in args.workers]
        if args.ray:
            settings.append((f"ray:{max(args.workers)}", RayExecutor(workers=max(args.workers))))
        print(f"case: {args.images} JPEG photos + {args.videos} face clips = {n} files; {os.cpu_count()} CPU core(s); "
              f"detectors: {', '.join(args.detector) if args.detector else 'all installed'}")
        base_items, base_rate = None, None
        for label, ex in settings:
            t0 = time.perf_counter()
            res = analyze_case(case, detectors=args.detector, executor=ex)
            dt = time.perf_counter() - t0
            items = json.loads(json.dumps(res.document["items"], sort_keys=True))
            rate = n / dt
            same = "" if base_items is None else ("  findings identical" if items == base_items
                                                  else "  FINDINGS DIFFER from the in-process run: "
                                                  + ", ".join(_differences(base_items, items)[:3]))
            if base_items is None:
                base_items, base_rate = items, rate
            print(f"workers {label:>6}: {dt:7.1f} s  {rate:6.3f} files/s  speed-up {rate / base_rate:4.2f}x{same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
