"""Calibrate the copy-move detector on copy-moves generated from authentic photos (split by host photo).

For every authentic host photo we score the photo itself (re-saved as JPEG for half of the hosts) and one copy-move
forgery made from it by :func:`forensics.api.make_copy_move` (plain, rotated or scaled copy; hard or feathered edge;
JPEG-recompressed or not). Hosts are split 70 / 30; the Platt calibrator is fitted on the training hosts and every
in-source figure is measured on the held-out hosts only. Real forgery sets given with ``--real`` are only measured,
never fitted (cross-source); with any of them, the card's headline error rate is the least favourable real set's
(all its tampered files against its authentic ones), and the in-source figure moves to the other measurements.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from forensics.api import (
    Calibrator,
    decode_image,
    jpeg_bytes,
    load_rgb,
    make_copy_move,
    roc_metrics,
    sample_hosts,
    write_model_card,
)

from .cmfd import (
    DENSE_MAX_SIDE,
    G2NN_RATIO,
    KEYPOINT_MAX_SIDE,
    RESAMPLED_SIGMA,
    SIFT_CONTRAST,
    SIFT_LOW_CONTRAST_PX,
    SIFT_MIN_SIDE,
    detect_copy_move,
    pixel_scores,
)

# scikit-image's bundled public-domain photos; astronaut, coffee and chelsea are left out: the demo is made from them.
BUILTIN = ("rocket.jpg", "camera.png", "moon.png", "coins.png", "motorcycle_left.png", "motorcycle_right.png",
           "hubble_deep_field.jpg", "retina.jpg", "ihc.png", "brick.png", "grass.png", "gravel.png", "page.png",
           "text.png")
KINDS = ("plain", "rotated", "scaled")
NO_REAL_SET = ("No real copy-move set was measured (no cross-source figure yet): no non-reserved public repository "
               "carrying CoMoFoD, MICC-F220, COVERAGE or CASIA images with masks could be fetched (the COVERAGE "
               "repository holds only its README; the CoMoFoD mirrors found hold code or a handful of images without "
               "masks). Pass such a set with --real DIR (real/, fake/, mask/) to measure it.")


def hosts(dirs: Iterable[Path], max_per_dir: int, include_builtin: bool, seed: int) -> list[tuple[str, Path]]:
    """``(source name, path)`` of the host photos: up to ``max_per_dir`` per folder (a seeded, sorted sample)."""
    return sample_hosts(dirs, max_per_dir, seed, builtin=BUILTIN if include_builtin else ())


def forge(host: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """One generated copy-move of ``host``: a third plain, a third rotated (±45°), a third scaled (0.7–1.4)."""
    kind = KINDS[int(rng.integers(0, 3))]
    kw = {"plain": {}, "rotated": {"rotate": (-45, 45)}, "scaled": {"scale": (0.7, 1.4)}}[kind]
    quality = int(rng.integers(75, 96)) if rng.random() < 0.5 else None
    forged, mask, info = make_copy_move(host, rng, area=(0.01, 0.06), quality=quality, **kw)
    info["kind"] = kind
    return forged, mask, info


def authentic(host: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The host as it would reach us: half re-saved as JPEG (quality 75–95)."""
    return decode_image(jpeg_bytes(host, int(rng.integers(75, 96)))) if rng.random() < 0.5 else host


def score_hosts(items: list[tuple[str, Path]], seed: int, echo: Callable[[str], None]) -> list[dict]:
    rows = []
    t0 = time.time()
    for i, (source, path) in enumerate(items):
        rng = np.random.default_rng([seed, i])
        host = load_rgb(path, max_side=640)
        if min(host.shape[:2]) < 64:
            continue
        a = authentic(host, rng)
        t = time.perf_counter()
        ra = detect_copy_move(a)
        dt_a = time.perf_counter() - t
        try:
            f, m, info = forge(host, rng)
        except ValueError:
            continue
        t = time.perf_counter()
        rf = detect_copy_move(f)
        dt_f = time.perf_counter() - t
        px = pixel_scores(rf.mask_at(m.shape), m)
        rows.append({"host": i, "source": source, "name": path.name, "kind": info["kind"],
                     "quality": info["quality"], "feather": info["feather"], "score_authentic": ra.score,
                     "score_forged": rf.score, "marked_forged": bool(rf.share > 0),
                     "marked_authentic": bool(ra.share > 0), "f1": px["f1"], "mcc": px["mcc"],
                     "mp": host.shape[0] * host.shape[1] / 1e6, "seconds": dt_a + dt_f})
        if (i + 1) % 25 == 0:
            echo(f"  {i + 1}/{len(items)} hosts ({time.time() - t0:.0f} s)")
    return rows


def split_hosts(rows: list[dict], seed: int, test_fraction: float = 0.3) -> np.ndarray:
    order = np.random.default_rng(seed + 1).permutation(len(rows))
    test = np.zeros(len(rows), bool)
    test[order[: max(2, int(round(test_fraction * len(rows))))]] = True
    return test


def as_xy(rows: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.array([[r["score_authentic"], r["score_forged"]] for r in rows]).ravel()
    y = np.tile([0, 1], len(rows))
    g = np.repeat([r["host"] for r in rows], 2)
    return s, y, g


def train(data_dirs: list[Path], out_dir: Path, max_per_dir: int = 120, include_builtin: bool = True, seed: int = 0,
          real: list[Path] = (), command: str = "", echo: Callable[[str], None] = print) -> dict:
    import cv2

    from . import CopyMoveDetector

    cv2.setNumThreads(1)  # one CPU thread: the cost figure in the card is per thread
    items = hosts(data_dirs, max_per_dir, include_builtin, seed)
    if len(items) < 10:
        raise SystemExit(f"need at least 10 authentic photos, found {len(items)}")
    echo(f"scoring {len(items)} authentic host photos and one generated copy-move of each (seed {seed})")
    rows = score_hosts(items, seed, echo)
    test = split_hosts(rows, seed)
    tr = [r for r, t in zip(rows, test) if not t]
    te = [r for r, t in zip(rows, test) if t]
    s_tr, y_tr, _ = as_xy(tr)
    s_te, y_te, _ = as_xy(te)
    cal = Calibrator.fit(s_tr, y_tr, method="platt", input="raw", sign=+1)
    metrics = roc_metrics(y_te, cal.apply(s_te))
    metrics["auc_raw_score"] = metrics["auc"]
    metrics["kind"] = "in-source (generated copy-moves, held-out host photos)"
    metrics["dataset"] = (f"{len(te)} held-out host photos ({', '.join(sorted({r['source'] for r in te}))}): "
                          f"each authentic + one generated copy-move")
    per_kind = {}
    groups = {k: [r for r in te if r["kind"] == k] for k in KINDS}
    groups["JPEG-recompressed (any kind)"] = [r for r in te if r["quality"] is not None]
    for kind, sel in groups.items():
        if sel:
            f1 = np.array([r["f1"] for r in sel])
            mcc = np.array([r["mcc"] for r in sel])
            per_kind[kind] = {"n": len(sel), "pixel_f1_mean": round(float(f1.mean()), 4),
                              "pixel_mcc_mean": round(float(mcc.mean()), 4),
                              "detected_share": round(float(np.mean([r["marked_forged"] for r in sel])), 4)}
    mp = sum(r["mp"] for r in rows) * 2
    ms_per_mp = 1000 * sum(r["seconds"] for r in rows) / max(mp, 1e-9)
    evaluations, real_sets = {}, {}
    for rdir in real:
        from .realdata import evaluate_real

        echo(f"measuring real set {rdir.name} (never fitted on)")
        got = evaluate_real(rdir, cal, echo)
        if got:
            evaluations.update(got[0])
            real_sets[rdir.name] = got[1]
    in_source = metrics
    pooled = {k: v for k, v in evaluations.items() if k.endswith(": all tampered vs authentic")}
    if pooled:  # headline: the least favourable real set, never the in-source figure
        worst = min(pooled, key=lambda k: pooled[k]["auc"])
        metrics = dict(pooled[worst], kind="cross-source (real copy-moves and their originals, never fitted on; they informed the verification design of 2.1.0-2.1.1)")
        metrics["dataset"] = (f"{worst.split(':')[0]}, the least favourable of {len(pooled)} real set(s) "
                              f"({', '.join(sorted(real_sets))}); {metrics['dataset']}")
        evaluations = {"in-source: generated copy-moves, held-out host photos": in_source, **evaluations}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "calibrator.json").write_text(json.dumps(cal.to_json(), indent=2) + "\n", encoding="utf-8")
    data = [{"name": "scikit-image sample photos", "role": "training + held-out hosts",
             "source": "scikit-image package data (" + ", ".join(BUILTIN) + ")",
             "count": sum(r["source"] == "scikit-image" for r in rows), "licence": "public domain / CC0 (see skimage)",
             "label": "authentic as published; forgeries generated by make_copy_move"}] if include_builtin else []
    for name, rs in real_sets.items():
        data.append({"name": name, "role": "real cross-check (measured only, never fitted on; see Limitations)",
                     "source": rs["source"], "count": rs["files"],
                     "licence": "see the set's MANIFEST.csv / source repository",
                     "label": "published tampered / authentic files of the set (pixel truth from its masks where it has them)"})
    for d in data_dirs:
        n = sum(r["source"] == d.name for r in rows)
        data.append({"name": d.name, "role": "training + held-out hosts", "source": "$DATA/" + "/".join(d.parts[-2:]) + " (../shared/data, see its README)",
                     "count": n, "licence": "research use (see ../shared/data/README.md)",
                     "label": "authentic photos (folder); forgeries generated by make_copy_move"})
    card = {
        "name": "copy_move",
        "title": "Copy-move detector calibration (`copy_move`)",
        "version": CopyMoveDetector.version,
        "detector": "forensics_plugins.copy_move",
        "method": ("Amerini et al., 'A SIFT-based forensic method for copy-move attack detection and transformation "
                   "recovery', IEEE TIFS 6(3):1099-1110, 2011 (g2NN, RANSAC); Fridrich, Soukal & Lukas, 'Detection "
                   "of copy-move forgery in digital images', DFRWS 2003 (block matching); Cozzolino, Poggi & "
                   "Verdoliva, 'Efficient dense-field copy-move forgery detection', IEEE TIFS 10(11):2284-2297, 2015 "
                   "(dense Zernike-moment matches); Pan & Lyu, 'Region duplication detection using image feature "
                   "matching', IEEE TIFS 5(4), 2010 (verification by warping); Evangelidis & Psarakis, IEEE TPAMI "
                   "30(10), 2008 (ECC refinement)."),
        "summary": ("Training-free detector; only the map from its raw score (log10 of the share of the image in the "
                    "largest verified copied region) to a probability is fitted: a class-balanced Platt sigmoid, "
                    "2 parameters, JSON."),
        "architecture": (f"Analysis on the image scaled to ≤ {KEYPOINT_MAX_SIDE} px. Candidates: SIFT (OpenCV, contrast "
                         f"threshold {SIFT_CONTRAST}, 0.01 above {SIFT_LOW_CONTRAST_PX:,} px, ≤ 5000 keypoints, image upscaled to a short side ≥ "
                         f"{SIFT_MIN_SIDE} px, RootSIFT) with g2NN ratio {G2NN_RATIO}, displacement voting and "
                         "sequential RANSAC of similarity transforms (≥ 4 inliers, 3 px), each refitted as a full "
                         "affine map on its inliers (least median of squares) where that fits them better (copies "
                         "scaled differently along x and y); dense Zernike-moment matches "
                         f"(order ≤ 5, radius 7, on ≤ {DENSE_MAX_SIDE} px) through the same RANSAC (≥ 30 inliers); "
                         "7×7 block matching voting for shifts. Verification: local squared difference between the "
                         "image and its warped copy below 0.3× the difference 2 px off (dense ratio test; a rotated "
                         f"or scaled copy on the image low-passed by a {RESAMPLED_SIGMA:g} px Gaussian, since it was "
                         "interpolated when pasted), regions "
                         "≥ 0.15 % of the image and ≥ ~9 px thick, hysteresis growth (ratio < 0.6), convex-hull fill "
                         "of flat parts, ECC sub-pixel refinement; periodic patterns dropped (region agrees under the "
                         "transform applied twice, or 4+ transforms over overlapping regions). Calibrator: Platt on "
                         "the raw score."),
        "metrics": metrics,
        "evaluations": evaluations,
        "localisation": {"held_out": per_kind, **{name: rs["localisation"] for name, rs in real_sets.items()}},
        "cost": {"ms_per_megapixel": round(ms_per_mp, 1), "images": 2 * len(rows),
                 "note": "one CPU thread on the shared 2-core machine (loaded by other jobs), images ≤ 640 px; small "
                         "images cost more per megapixel (SIFT runs on them upscaled)"},
        "data": data,
        "training": {"command": command, "seed": seed, "hosts": len(rows), "train_hosts": len(tr),
                     "test_hosts": len(te), "max_per_dir": max_per_dir,
                     "generator": "make_copy_move: area 1-6 %, plain / rotated ±45° / scaled 0.7-1.4, "
                                  "50 % JPEG 75-95, 50 % feathered; authentic: 50 % re-saved as JPEG 75-95"},
        "sections": [{"title": "Localisation on held-out hosts (pixel F1 / MCC against the generated masks)",
                      "body": "\n".join(f"- {k}: {v['n']} images, mean pixel F1 {v['pixel_f1_mean']:.3f}, MCC "
                                        f"{v['pixel_mcc_mean']:.3f}, found (any region) {v['detected_share']:.0%}"
                                        for k, v in per_kind.items())
                      + f"\n- authentic held-out images with any region marked: "
                        f"{sum(r['marked_authentic'] for r in te)}/{len(te)}"},
                     *([{"title": "Localisation on real sets (pixel F1 / MCC against the published masks)",
                         "body": "\n".join(
                             f"- {name} ({rs['source']}): {rs['scored']}/{rs['files']} files scored; authentic files "
                             f"with any region marked {rs['authentic_marked']}/{rs['authentic']}\n" + "\n".join(
                                 f"  - {k}: {v['n']} images, mean pixel F1 {v['pixel_f1_mean']:.3f}, MCC "
                                 f"{v['pixel_mcc_mean']:.3f}" for k, v in rs["localisation"].items())
                             for name, rs in real_sets.items())}] if real_sets else []),
                     {"title": "Cost", "body": f"{ms_per_mp:.0f} ms per megapixel on this training run "
                                               "(see `python benchmarks/image_forgery.py` for the benchmark)."}],
        "limitations": [
            ("The headline figure is the least favourable real set's; the calibrator was fitted only on generated "
             "copy-moves of other photos." if real_sets else
             "The headline figure is in-source: generated copy-moves on held-out photos of the same sources."),
            "Not untouched by design: the two verification changes of 2.1.0 (a rotated or scaled copy compared on "
            "the image low-passed by 1 px; a similarity refitted as an affine map only when that is an editor's "
            "transform) were chosen after inspecting why MICC-F220's rotated and scaled copies were missed, and "
            "checked on COVERAGE before shipping; the repeat-rule change of 2.1.1 (a plain shift is never grouped "
            "with resampled maps as a repeating pattern) after finding why COVERAGE 28t, a plain copy, was dropped. "
            "The calibrator is still fitted only on generated copy-moves, but "
            "these two real sets informed the method, so their figures are somewhat optimistic.",
            "Similar but genuine objects (repeated windows, tiles, text characters) produce true matches that are "
            "not forgeries; the figure shows what matched so an examiner can judge.",
            "Copies scaled by more than ~1.4x, heavily blurred, or of flat regions under strong JPEG compression "
            "are often missed.",
            f"Large images are searched at ≤ {KEYPOINT_MAX_SIDE} px (dense matches ≤ {DENSE_MAX_SIDE} px): copies "
            "smaller than a few pixels at that scale are missed.",
            "Copies of flat, textureless regions (plain wall, sky, skin under strong JPEG) cannot be told from the "
            "region around them and are missed or only partly outlined.",
        ],
        "files": {"weights": {"path": "calibrator.json"}},
    }
    if not evaluations:
        card["limitations"].append(NO_REAL_SET)
    write_model_card(out_dir, card)
    echo(f"held-out hosts (in-source): AUC {in_source['auc']} (95 % CI {in_source['auc_ci95']}), EER "
         f"{in_source['eer']}, {in_source['n_test']} images; localisation {json.dumps(per_kind)}; {ms_per_mp:.0f} "
         f"ms/MP; headline: AUC {metrics['auc']} (95 % CI {metrics['auc_ci95']}), {metrics['kind']}; wrote {out_dir}")
    return card
