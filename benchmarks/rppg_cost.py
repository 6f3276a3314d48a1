"""Cost of the rPPG detector per frame, beyond the shared face pipeline.

Usage: python benchmarks/rppg_cost.py [--video PATH] [--seconds 10] [--repeat 3]

Without ``--video`` it generates a 10 s, 30 fps, 320×320 clip panning over the
astronaut portrait (the demo's face clip, longer). The shared face analysis
(:func:`forensics.faces.face_analysis`: decode, detect, landmark, align) is run once
and cached, exactly as in ``forensics analyze`` where every face detector shares it;
then the detector's ``analyze`` is timed on the cached faces (best of ``--repeat``),
split into its stages:

* region/cell colour means per frame (the only per-frame work),
* signal extraction + window features (per track),
* report figures (matplotlib).

Prints milliseconds per analysed frame for each stage and in total.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def best_of(n, fn):
    best, out = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from forensics.faces import face_analysis
    from forensics_plugins.rppg import RPPGDetector
    from forensics_plugins.rppg import pipeline as P
    from forensics_plugins.rppg import regions as R
    from forensics_plugins.rppg.figures import whole_track_hr

    tmp = None
    video = args.video
    if video is None:
        from forensics.demo import face_video_frames, write_mp4

        tmp = tempfile.TemporaryDirectory()
        video = Path(tmp.name) / "face.mp4"
        n = int(round(args.seconds * 30))
        write_mp4(video, face_video_frames(n), fps=30, codec="mpeg4")
    media = P.media_for_path(video)
    t0 = time.perf_counter()
    fa = face_analysis(media)
    t_faces = time.perf_counter() - t0
    frames = sum(len(t) for t in fa.tracks)
    print(f"video: {video.name if args.video else 'generated'} {fa.width}×{fa.height}, {fa.frames_sampled} frames "
          f"sampled at {fa.fps:g} fps, {len(fa.tracks)} track(s), {frames} face observations")
    print(f"shared face pipeline (not counted below): {t_faces:.2f} s = {1000 * t_faces / max(fa.frames_sampled, 1):.1f} "
          "ms/frame")

    det = RPPGDetector()
    obs = [o for t in fa.tracks for o in t.observations]
    t_means, _ = best_of(args.repeat, lambda: [R.track_traces(t.observations) for t in fa.tracks])
    vt = P.video_traces(media)
    t_sig, res = best_of(args.repeat, lambda: [P.track_windows(tt) for tt in vt.tracks])

    def figs():
        for tt, (ts, wins) in zip(vt.tracks, res):
            det._figures(tt, ts, wins, None)

    t_fig, _ = best_of(args.repeat, figs)
    t_all, finding = best_of(args.repeat, lambda: det.analyze(media.item, media))
    per = lambda s: 1000 * s / max(len(obs), 1)  # noqa: E731
    print(f"rPPG region + PPG-map colour means: {per(t_means):6.2f} ms/frame")
    print(f"signals + window features:          {per(t_sig):6.2f} ms/frame ({len(sum((w for _, w in res), []))} windows)")
    print(f"report figures:                     {per(t_fig):6.2f} ms/frame")
    print(f"detector total beyond face pipeline: {per(t_all):6.2f} ms/frame ({t_all:.2f} s for {len(obs)} frames; "
          f"finding: {finding.status.value}{', p=%.3f' % finding.probability if finding.probability is not None else ''})")
    hr = whole_track_hr(res[0][0]) if res else None
    if hr:
        print("heart rate on this clip (a still portrait, so no real pulse): "
              + ", ".join(f"{m} {v['hr_bpm']}" for m, v in hr.items()))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
