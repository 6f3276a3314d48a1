"""Frozen-feature ablation of the FWA slot: ``python -m forensics_plugins.fwa.probe ...`` prints its figures.

A linear probe instead of fine-tuning (in the spirit of Ojha et al., CVPR 2023, who classify frozen
foundation-model features): the EfficientNet-Lite0 ImageNet backbone stays frozen; every image is described by
its **pooled multi-stage features** -- the global mean (and, with ``--pooling meanstd``, standard deviation) of
the stem, each of the seven block stages and the 1x1 head convolution (2,096 channels; 4,192 with the std) --
and a logistic regression (standardised features, L2; C picked on held-out identities' synthetic pairs, never
on a cross-check) separates real faces from their self-blended copies (:func:`.train.make_pair`, the same
pairs as the fine-tuning run). Cross-checks are scored with the detector's rule (:mod:`.infer`: mean P over a
track's frames, maximum over tracks) and printed as item AUC with a stratified bootstrap 95 % interval and the
counts. Nothing here is shipped; it is the measured alternative to partial fine-tuning.

Cost: one frozen forward pass per image (about 12 ms at 128 px on one CPU thread); features of the training
pairs are cached in ``--work-dir`` (npz, keyed by the settings), so heads and poolings are cheap to compare.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import time
from pathlib import Path

import numpy as np

from .data import cached_arrays, extract, labelled_media
from .infer import roi_input
from .model import PROBE_CHANNELS


def pooled_features(model, x):
    """(N, 2C) pooled multi-stage features of a frozen timm Lite0 for a normalised batch ``x``: per stage (stem,
    7 block stages, head conv) the channel means, then the channel standard deviations."""
    import torch

    from .model import stage_maps

    with torch.inference_mode():
        outs = [t for h in stage_maps(model, x) for t in (h.mean(dim=(2, 3)), h.flatten(2).std(dim=2))]
    return torch.cat(outs, dim=1).float().numpy()


def columns(pooling: str) -> np.ndarray:
    """Indices of the ``pooling`` ("mean" or "meanstd") columns of :func:`pooled_features`."""
    idx, at = [], 0
    for c in PROBE_CHANNELS:  # stem, 7 block stages, head conv
        idx += list(range(at, at + c)) + (list(range(at + c, at + 2 * c)) if pooling == "meanstd" else [])
        at += 2 * c
    return np.array(idx)


def features_of(model, inputs: np.ndarray, chunk: int = 64) -> np.ndarray:
    from .model import to_tensor

    out = [pooled_features(model, to_tensor(inputs[i:i + chunk], "efficientnet_lite0"))
           for i in range(0, len(inputs), chunk)]
    return np.concatenate(out) if out else np.zeros((0, 0))


def _training_faces(faces_dirs: list[Path], manifest: Path, cache: Path):
    from .train import check_manifest

    rows = json.loads(Path(manifest).read_text(encoding="utf-8"))["files"]
    check_manifest(rows, faces_dirs)
    train, held, src = [], [], []
    for r in rows:
        ff = extract(Path(faces_dirs[r["root"]]) / r["path"], cache, r["sha256"])
        for c, lm, _ in ff.tracks:
            for j in range(len(c)):
                if r["split"] == "train":
                    train.append((c[j], lm[j]))
                    src.append(r["source"])
                elif j == 0:
                    held.append((c[j], lm[j]))
    return train, held, src


def pair_features(model, faces, idx, kind: str, size: int, seed: int, salt: int):
    from .train import pair_inputs

    x, y = pair_inputs(faces, idx, kind, size, lambda n: np.random.default_rng([seed, salt, n]))
    return features_of(model, x), y


def add_data_args(ap: argparse.ArgumentParser) -> None:
    """The data options every FWA ablation tool takes: faces, the card's split, cross-check folders, caches."""
    ap.add_argument("--faces", type=Path, action="append", required=True)
    ap.add_argument("--manifest", type=Path, required=True, help="data_manifest.json of the FWA card (split)")
    ap.add_argument("--cross-check", type=Path, action="append", default=[])
    ap.add_argument("--exclude", action="append", default=[])
    ap.add_argument("--cache", type=Path, required=True, help="face-crop cache (:mod:`.data`)")
    ap.add_argument("--work-dir", type=Path, required=True, help="feature cache of this tool")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_args(ap)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--pairs", type=int, default=4000, help="training faces (each gives a real + an SBI image)")
    ap.add_argument("--negatives", default="sbi", choices=("sbi", "warp", "both", "sbi_regen"))
    ap.add_argument("--pooling", action="append", choices=("mean", "meanstd"),
                    help="feature pooling(s) to compare [default: both]")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    a.pooling = a.pooling or ["mean", "meanstd"]

    import cv2
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from forensics.api import roc_metrics

    from . import model as M
    from .infer import aggregate_track

    torch.set_num_threads(a.threads)
    cv2.setNumThreads(a.threads)
    t0 = time.time()
    torch.manual_seed(a.seed)
    model = M.build("efficientnet_lite0")
    M.load_imagenet_lite0(model)
    model.eval()
    train, held, src = _training_faces(a.faces, a.manifest, a.cache)
    counts = {s: src.count(s) for s in set(src)}
    w = np.array([math.sqrt(counts[s]) / counts[s] for s in src])
    rng = np.random.default_rng([a.seed, 8_000_000])
    idx = rng.choice(len(train), size=a.pairs, replace=True, p=w / w.sum())
    held = held[:: max(1, len(held) // 400)][:400]
    a.work_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(a.manifest.read_bytes()).hexdigest()
    key = hashlib.sha256(f"{digest}|{a.size}|{a.pairs}|{a.negatives}|{a.seed}|probe/2".encode()).hexdigest()[:16]
    fcache = a.work_dir / f"probe-train-{key}.npz"
    if fcache.is_file():
        with np.load(fcache) as z:
            xtr, ytr, xho, yho = z["xtr"], z["ytr"], z["xho"], z["yho"]
    else:
        xtr, ytr = pair_features(model, train, idx, a.negatives, a.size, a.seed, 8_100_000)
        xho, yho = pair_features(model, held, range(len(held)), "sbi", a.size, a.seed, 7_000_000)
        np.savez(fcache, xtr=xtr, ytr=ytr, xho=xho, yho=yho)
    print(f"features: {len(xtr)} training images ({a.pairs} real + {a.pairs} {a.negatives} from "
          f"{len(set(map(int, idx)))} faces), {len(xho)} held-out; {time.time() - t0:.0f} s", flush=True)
    ex = [re.compile(r) for r in a.exclude]
    checks = {}
    for d in a.cross_check:  # per file: per track, the features of its scored frames (cached by SHA-256 + size)
        items = []
        for label, p in labelled_media(d, ex):
            ff = extract(p, a.cache)
            if not ff.tracks:
                items.append((label, None))
                continue
            tracks = cached_arrays(
                a.work_dir / f"probe-x-{ff.sha256[:24]}-{a.size}.npz",
                lambda ff=ff: [features_of(model, np.stack([roi_input(cr, lm, a.size)[0] for cr, lm in zip(c, lms)]))
                               for c, lms, _ in ff.tracks])
            items.append((label, tracks))
        checks[d.name] = items
        print(f"  features of {d.name}: {len(items)} files; {time.time() - t0:.0f} s", flush=True)
    for pooling in a.pooling:
        cols = columns(pooling)
        scaler = StandardScaler().fit(xtr[:, cols])
        best = None
        for c in (0.001, 0.01, 0.1, 1.0):
            clf = LogisticRegression(C=c, max_iter=3000).fit(scaler.transform(xtr[:, cols]), ytr)
            m = roc_metrics(yho, clf.decision_function(scaler.transform(xho[:, cols])), ci_resamples=1000, seed=0)
            print(f"  [{pooling}] C={c}: in-source synthetic SBI (held-out identities) AUC {m['auc']:.3f} "
                  f"({m['auc_ci95'][0]:.2f}–{m['auc_ci95'][1]:.2f})")
            if best is None or m["auc"] > best[0]:
                best = (m["auc"], c, clf)
        _, c, clf = best
        print(f"[{pooling} pooling, {len(cols)} features] C={c} chosen on held-out identities' synthetic pairs")
        for name, items in checks.items():
            y, s = [], []
            for label, tracks in items:
                if tracks is None:
                    continue
                z = [clf.decision_function(scaler.transform(t[:, cols])) for t in tracks]
                y.append(label)
                s.append(max(aggregate_track(1 / (1 + np.exp(-v))) for v in z))
            m = roc_metrics(np.array(y), np.array(s), ci_resamples=1000, seed=0)
            ci = m.get("auc_ci95") or [float("nan")] * 2
            print(f"  [{pooling}] cross-source {name}: item AUC {m['auc']:.3f} ({ci[0]:.2f}–{ci[1]:.2f}) "
                  f"EER {m['eer']:.3f}; {m['n_test_negative']} real / {m['n_test_positive']} fake; "
                  f"{sum(t is None for _, t in items)} without a face", flush=True)
    print(f"done in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
