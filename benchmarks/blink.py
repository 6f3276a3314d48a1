"""Per-frame cost of the blink detector beyond the shared face pipeline.

Generates the same 720p clip as ``benchmarks/faces.py`` (a face moving across the
frame, libx264), runs the shared face pipeline once (timed for context only), then
times the blink detector on the cached faces -- what it adds to an analysis:

* eyes: eye crops, EAR and visibility checks for every observation;
* LRCN: CNN on both eye crops of every frame + LSTM over the track (CPU);
* blinks: the blink rule on both signals, statistics, calibration;
* figures: timeline, norms chart and eye-crop strip (PNG);
* whole ``analyze`` call (everything above, plus model-card hash check, cached).

Usage::

    python benchmarks/blink.py [--seconds 10] [--fps 30] [--repeat 3] [--threads N]
    python benchmarks/blink.py --eye-state DIR [--eye-state DIR ...] [--faces]

Prints milliseconds per sampled frame for each part (median of ``--repeat`` runs). With ``--eye-state`` it
instead measures the shipped eye-state CNN (calibrated per-frame head, P(closed) ≥ 0.5) on labelled eye data
in ``DIR/open`` and ``DIR/closed`` (eye crops; with ``--faces`` face images, eyes cut by the shared face
pipeline) and prints accuracy with a 95 % bootstrap interval over images, AUC and the confusion counts.
The figure is cross-source only for data from a source the shipped model never trained on (its card lists them).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _make_clip():
    spec = importlib.util.spec_from_file_location("bench_faces", Path(__file__).with_name("faces.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_clip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave torch's default)")
    ap.add_argument("--eye-state", type=Path, action="append", default=[],
                    help="measure eye-state accuracy on DIR/open and DIR/closed instead of timing (repeatable)")
    ap.add_argument("--faces", action="store_true", help="--eye-state folders hold face images, not eye crops")
    args = ap.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.eye_state:
        return eye_state_accuracy(args.eye_state, args.faces)

    from forensics import faces
    from forensics.case import hash_item, scan_case
    from forensics.media import MediaAccess
    from forensics_plugins.blink_lrcn import BlinkDetector, _load_model
    from forensics_plugins.blink_lrcn.analysis import face_signals, judge_track, video_score
    from forensics_plugins.blink_lrcn.blinks import blinks_from_ear, blinks_from_probability
    from forensics_plugins.blink_lrcn.figures import eye_strip, norms_chart, timeline
    from forensics_plugins.blink_lrcn.lrcn import eye_state

    det = BlinkDetector()
    card = det.model_card()
    model = card.load("weights", _load_model)

    with tempfile.TemporaryDirectory() as tmp:
        case = Path(tmp) / "case"
        case.mkdir()
        n = _make_clip()(case / "clip.mp4", args.seconds, args.fps)
        (item,) = scan_case(case)
        hash_item(item)
        faces._dlib_models()
        media = MediaAccess(item)
        t0 = time.perf_counter()
        fa = faces.face_analysis(media)
        t_faces = time.perf_counter() - t0
        frames = fa.frames_sampled
        obs = sum(len(t) for t in fa.tracks)

        timings: dict[str, list[float]] = {k: [] for k in ("eyes", "lrcn", "blinks", "figures", "analyze")}
        det.analyze(item, media)  # warm-up (imports, matplotlib font cache)
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            sigs = face_signals(fa)
            t1 = time.perf_counter()
            for s in sigs:
                eye_state(model, s.crops)
            t2 = time.perf_counter()
            results = [judge_track(s, fa.fps, model) for s in sigs]  # for the figures (not timed)
            t2b = time.perf_counter()
            for r in results:
                blinks_from_probability(r.p_lrcn, fa.fps, r.signals.times)
                blinks_from_ear(r.signals.ear, fa.fps, r.signals.times)
            video_score(results)
            t3 = time.perf_counter()
            for r in results:
                timeline(r, "benchmark")
                norms_chart(r)
                eye_strip(r)
            t4 = time.perf_counter()
            finding = det.analyze(item, media)
            t5 = time.perf_counter()
            timings["eyes"].append(t1 - t0)
            timings["lrcn"].append(t2 - t1)
            timings["blinks"].append(t3 - t2b)
            timings["figures"].append(t4 - t3)
            timings["analyze"].append(t5 - t4)

    ms = {k: 1000 * statistics.median(v) / frames for k, v in timings.items()}
    print(f"clip: 1280x720, {n} frames at {args.fps} fps; {frames} sampled, {len(fa.tracks)} track(s), {obs} face "
          f"observations; torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} CPU(s)")
    print(f"shared face pipeline (context, not counted): {1000 * t_faces / frames:7.2f} ms/frame")
    print(f"blink detector beyond the face pipeline (median of {args.repeat}):")
    print(f"  eye crops + EAR + visibility : {ms['eyes']:7.3f} ms/frame")
    print(f"  LRCN (CNN x2 eyes + LSTM)    : {ms['lrcn']:7.3f} ms/frame")
    print(f"  blink rule + statistics      : {ms['blinks']:7.3f} ms/frame")
    print(f"  figures (3 PNGs per track)   : {ms['figures']:7.3f} ms/frame")
    print(f"  whole analyze() call         : {ms['analyze']:7.3f} ms/frame  "
          f"({statistics.median(timings['analyze']):.2f} s for the clip; finding: {finding.status.value})")
    return 0


def eye_state_accuracy(dirs: list[Path], faces: bool) -> int:
    import torch

    from forensics_plugins.blink_lrcn import BlinkDetector, _load_model
    from forensics_plugins.blink_lrcn.data import collect
    from forensics_plugins.blink_lrcn.train import _state_metrics, frame_probabilities

    torch.set_num_threads(1)
    for d in dirs:
        if not d.is_dir():
            print(f"not a folder: {d}", file=sys.stderr)
            return 2
    card = BlinkDetector().model_card()
    model = card.load("weights", _load_model)
    samples = collect([] if faces else dirs, dirs if faces else [], echo=lambda m: None)
    if len(set(samples.labels.tolist())) < 2:
        print("need both open/ and closed/ eye data", file=sys.stderr)
        return 2
    m = _state_metrics(samples.labels, frame_probabilities(model, samples.crops), samples.groups)
    lo, hi = m["accuracy_ci95"]
    print(f"eye state, shipped blink_lrcn {card.version} CNN (P(closed) >= 0.5) on {', '.join(d.name for d in dirs)}: "
          f"{m['n_test']} crops of {m['n_images']} images ({m['n_test_positive']} closed)")
    print(f"  accuracy {m['accuracy']:.4f} (95 % CI {lo:.4f}-{hi:.4f}), balanced accuracy {m['balanced_accuracy']}, "
          f"AUC {m['auc']} {m['auc_ci95']}")
    print(f"  open called closed {m['open_called_closed']}, closed called open {m['closed_called_open']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
