"""Whole-video throughput and memory: decode-only vs full analysis of a generated 1080p clip, per stage.

Generates a 1920x1080 H.264 clip (scikit-image's public-domain astronaut as a talking head, face about
350 px, moving; a 20 s segment is encoded once and its packets are repeated with shifted timestamps, so a
10-minute clip takes seconds to make) into a temporary folder, then, for each duration, in a fresh child
process (so that peak RSS belongs to that clip alone):

1. **decode only**: every frame decoded by PyAV exactly as the face pipeline does (threaded decoder, no
   colour conversion) -- the floor any analysis of every frame must pay;
2. **full analysis** of a one-file case, stage by stage: intake (hashing), decode + colour conversion of the
   sampled frames, the shared face pipeline (detection, landmarks, tracking, crops), each detector, the
   timeline, and the report (fusion, findings.json, HTML, manifest);

and prints decode-only time, full time, their ratio, the per-stage times and the child's peak RSS.

Usage::

    python benchmarks/video_throughput.py [--minutes 1 10] [--fps 30] [-d DETECTOR ...] [--keep DIR]

Targets (issue 13): full / decode-only <= 5 on 2 CPU cores; peak RSS < 2 GB and flat in duration.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

SEGMENT_S = 20


def make_clip(path: Path, seconds: float, fps: int = 30, width: int = 1920, height: int = 1080) -> float:
    """Write the clip; returns the generation time in seconds."""
    import av
    import cv2
    import skimage.data

    t0 = time.perf_counter()
    head = cv2.resize(skimage.data.astronaut()[0:260, 90:350], (820, 820), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(60, 190, size=(height, width, 3), dtype=np.uint8), (0, 0), 3)
    seg_frames = int(min(seconds, SEGMENT_S) * fps)
    total = int(round(seconds * fps))
    with av.open(str(path), mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": "veryfast", "crf": "23", "threads": "2",
                                                              "x264-params": "bframes=0:keyint=60:open-gop=0"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        packets = []
        for i in range(seg_frames):
            t = i / fps
            frame = background.copy()
            x = int(400 + 350 * np.sin(2 * np.pi * t / SEGMENT_S))
            y = int(120 + 30 * np.sin(2 * np.pi * t / 3.0))
            frame[y:y + 820, x:x + 820] = head
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts, vf.time_base = i, Fraction(1, fps)
            for p in stream.encode(vf):
                packets.append((p.pts, p.dts, bytes(p), p.is_keyframe))
        for p in stream.encode():
            packets.append((p.pts, p.dts, bytes(p), p.is_keyframe))
        # repeat the segment's packets (it starts with an IDR frame, no B-frames) with shifted timestamps
        written = 0
        rep = 0
        while written < total:
            for pts, dts, data, key in packets:
                if written >= total:
                    break
                pkt = av.Packet(data)
                pkt.pts, pkt.dts = pts + rep * seg_frames, dts + rep * seg_frames
                pkt.stream = stream
                pkt.time_base = Fraction(1, fps)
                pkt.is_keyframe = key
                out.mux(pkt)
                written += 1
            rep += 1
    return time.perf_counter() - t0


def peak_rss_mb() -> float:
    """Peak resident set of this process (VmHWM: unlike ru_maxrss it does not inherit the parent's at fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def decode_only(path: Path) -> tuple[float, int]:
    import av

    t0 = time.perf_counter()
    n = 0
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for _ in c.decode(s):
            n += 1
    return time.perf_counter() - t0, n


def child(path: Path, detectors: list[str] | None) -> dict:
    """Measure one clip (run in its own process)."""
    from forensics.case import CustodyLog, environment, hash_item, read_case_info, scan_case, utc_now
    from forensics.engine import AnalysisResult, analyze_item, assemble_document, reverify
    from forensics.faces import face_analysis
    from forensics.media import MediaAccess
    from forensics.plugins import load_plugins
    from forensics.report import write_outputs

    stages: dict[str, float] = {}
    c0 = time.process_time()
    dec_s, n_frames = decode_only(path)
    dec_cpu = time.process_time() - c0
    rss_after_decode = peak_rss_mb()
    t_all = time.perf_counter()
    cpu0 = time.process_time()
    case = path.parent
    t0 = time.perf_counter()
    ps = load_plugins()
    selected = ps.select(detectors)
    stages["plugins and models"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    items = scan_case(case)
    for it in items:
        hash_item(it)
    (item,) = [it for it in items if it.kind == "video"]
    stages["intake (hash)"] = time.perf_counter() - t0

    media = MediaAccess(item)
    real_frames = media.frames
    decode_time = [0.0]

    def timed_frames(*a, **kw):  # time spent inside the decoder + colour conversion (the prefetch thread)
        it = real_frames(*a, **kw)
        while True:
            t = time.perf_counter()
            try:
                fr = next(it)
            except StopIteration:
                decode_time[0] += time.perf_counter() - t
                return
            decode_time[0] += time.perf_counter() - t
            yield fr

    media.frames = timed_frames
    t0 = time.perf_counter()
    fa = face_analysis(media)
    faces_total = time.perf_counter() - t0
    stages["decode all + faces on sampled frames (wall)"] = faces_total
    stages["  of which decode + RGB convert (background thread, busy)"] = decode_time[0]
    t0 = time.perf_counter()
    r = analyze_item(item, selected, media=media)
    item_s = time.perf_counter() - t0
    det_s = 0.0
    for what, f in r.events:
        if what == "DETECTOR_RAN":
            stages[f"detector {f['detector']} ({f['status']})"] = float(f["seconds"])
            det_s += float(f["seconds"])
    stages["timeline, decode check"] = item_s - det_s
    t0 = time.perf_counter()
    custody = CustodyLog()
    reverify([item], custody, lambda *a: None)
    info = read_case_info(case)
    doc = assemble_document(info, ps, selected, [item], {item.id: r}, environment(), "bench", utc_now(), utc_now())
    with tempfile.TemporaryDirectory() as out:
        write_outputs(AnalysisResult(document=doc, artifacts=r.artifacts, custody=custody), Path(out) / "report")
    stages["report (re-hash, fusion, JSON, HTML, manifest)"] = time.perf_counter() - t0
    total = time.perf_counter() - t_all
    cpu_total = time.process_time() - cpu0
    cov = doc["items"][0].get("coverage") or {}
    return {
        "frames": n_frames, "decode_only_s": dec_s, "full_s": total, "ratio": total / dec_s, "stages": stages,
        "decode_only_cpu_s": dec_cpu, "full_cpu_s": cpu_total, "load_average": os.getloadavg()[0],
        "peak_rss_mb": peak_rss_mb(), "rss_after_decode_mb": rss_after_decode,
        "coverage": {k: cov.get(k) for k in ("duration_s", "analysed_s", "face_s", "frames_decoded",
                                              "frames_sampled")},
        "gaps": len(cov.get("gaps") or []), "dense_tracks": len(fa.tracks), "video_tracks": len(fa.video_tracks),
        "crops_kept": sum(len(t.crop_observations) for t in fa.video_tracks),
        "verdict": (doc["items"][0].get("verdict") or {}).get("label"),
        "torch_threads": _torch_threads(),
    }


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("-d", "--detector", action="append", help="only these detectors (default: all installed)")
    ap.add_argument("--keep", type=Path, help="generate the clips in this folder and keep them")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.detector)))
        return 0
    base = args.keep or Path(tempfile.mkdtemp(prefix="forensics-throughput-"))
    print(f"CPU cores: {os.cpu_count()}; clips in {base}")
    rows = []
    for minutes in args.minutes:
        case = base / f"case-{minutes:g}min"
        case.mkdir(parents=True, exist_ok=True)
        clip = case / f"talking-head-1080p-{minutes:g}min.mp4"
        if not clip.exists():
            g = make_clip(clip, minutes * 60, args.fps)
            print(f"generated {clip.name} ({clip.stat().st_size / 1e6:.1f} MB) in {g:.1f} s")
        cmd = [sys.executable, __file__, "--child", str(clip)] + sum((["-d", d] for d in args.detector or []), [])
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(out.stderr[-3000:], file=sys.stderr)
            return 1
        res = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append((minutes, res))
        print(f"\n== {minutes:g} min, 1920x1080 H.264 @ {args.fps} fps: {res['frames']} frames ==")
        print(f"decode only:   {res['decode_only_s']:8.1f} s  ({res['frames'] / res['decode_only_s']:.0f} fps)")
        print(f"full analysis: {res['full_s']:8.1f} s  ({res['frames'] / res['full_s']:.0f} fps)")
        print(f"ratio full / decode-only: {res['ratio']:.2f}x   (target <= 5x)")
        print(f"CPU time (both cores): decode only {res['decode_only_cpu_s']:.1f} s, full {res['full_cpu_s']:.1f} s, "
              f"ratio {res['full_cpu_s'] / max(res['decode_only_cpu_s'], 1e-9):.2f}x; "
              f"1-min load average at the end {res['load_average']:.1f} (other processes share the cores)")
        print(f"peak RSS: {res['peak_rss_mb']:.0f} MB (after decode-only: {res['rss_after_decode_mb']:.0f} MB)"
              "   (target < 2048 MB, flat in duration)")
        print("per stage (s):")
        for k, v in res["stages"].items():
            print(f"  {k:<52} {v:8.2f}")
        c = res["coverage"]
        print(f"coverage: {c['analysed_s']} of {c['duration_s']} s analysed, face in {c['face_s']} s, "
              f"{c['frames_sampled']} of {c['frames_decoded']} frames sampled; {res['gaps']} gap(s); "
              f"{res['dense_tracks']} dense / {res['video_tracks']} whole tracks, {res['crops_kept']} crops kept; "
              f"torch threads {res['torch_threads']}; verdict: {res['verdict']}")
    if len(rows) > 1:
        print("\nsummary: " + "; ".join(f"{m:g} min: ratio {r['ratio']:.2f}x, peak RSS {r['peak_rss_mb']:.0f} MB"
                                       for m, r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
