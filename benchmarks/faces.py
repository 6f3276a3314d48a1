"""Throughput of the shared face pipeline: decode-only vs decode + faces, on a 720p clip.

Generates its own clip (scikit-image's public-domain astronaut, upscaled and moved
across a 1280x720 frame, encoded with PyAV/libx264), then times in one run:

1. decode only: ``MediaAccess.frames`` at the pipeline's sampling (every frame here);
2. decode + faces: :func:`forensics.faces.face_analysis` (HOG detection every few
   frames, 68 landmarks and an aligned crop on every frame, tracking).

Usage::

    python benchmarks/faces.py [--seconds 10] [--fps 30]

Prints frames/s for both and their ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_clip(path: Path, seconds: float, fps: int, width: int = 1280, height: int = 720) -> int:
    import av
    import cv2
    import skimage.data

    # her head and shoulders (230 px) upscaled to 400 px: a face about 150 px wide, typical of 720p interviews
    head = cv2.resize(skimage.data.astronaut()[20:250, 105:335], (400, 400), interpolation=cv2.INTER_CUBIC)
    n = int(seconds * fps)
    rng = np.random.default_rng(0)
    background = rng.integers(90, 150, size=(height, width, 3), dtype=np.uint8)
    with av.open(str(path), mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps, options={"crf": "23", "preset": "veryfast", "threads": "1"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(n):
            t = i / max(n - 1, 1)
            x = int(100 + (width - 600) * t)
            y = int(150 + 80 * np.sin(2 * np.pi * t))
            frame = background.copy()
            frame[y:y + 400, x:x + 400] = head
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fps", type=int, default=30)
    args = ap.parse_args(argv)

    from forensics import faces
    from forensics.case import hash_item, scan_case
    from forensics.media import MediaAccess

    with tempfile.TemporaryDirectory() as tmp:
        case = Path(tmp) / "case"
        case.mkdir()
        n = make_clip(case / "clip.mp4", args.seconds, args.fps)
        (item,) = scan_case(case)
        hash_item(item)
        faces._dlib_models()  # load the models outside the timed region
        info = MediaAccess(item).video_info()
        stride, max_frames = faces.video_sampling(info.fps, info.frame_count)

        media = MediaAccess(item)
        t0 = time.perf_counter()
        decoded = sum(1 for _ in media.frames(stride=stride, max_frames=max_frames))
        t_decode = time.perf_counter() - t0

        media = MediaAccess(item)
        t0 = time.perf_counter()
        fa = faces.face_analysis(media)
        t_faces = time.perf_counter() - t0

    obs = sum(len(t) for t in fa.tracks)
    print(f"clip: {info.width}x{info.height}, {n} frames at {args.fps} fps (libx264); sampled {decoded} "
          f"(stride {stride}); {os.cpu_count()} CPU(s)")
    print(f"decode only      : {decoded / t_decode:8.1f} frames/s  ({t_decode:.2f} s)")
    print(f"decode + faces   : {fa.frames_sampled / t_faces:8.1f} frames/s  ({t_faces:.2f} s; "
          f"{len(fa.tracks)} track(s), {obs} observations)")
    print(f"ratio            : faces pipeline runs at {t_decode / t_faces:.2f}x decode-only throughput "
          f"({t_faces / t_decode:.2f}x the time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
