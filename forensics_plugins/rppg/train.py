"""Train the rPPG detector's SVM on labelled face videos and evaluate it by grouped cross-validation.

Data layouts (``--data DIR``):

* ``DIR/real/**`` and ``DIR/fake/**`` video files; or
* a labels CSV (``--labels FILE``, or ``DIR/labels.csv``) with columns ``path`` (relative
  to ``DIR``), ``label`` (``real``/``fake`` or 0/1) and optionally ``group``.

Groups keep one identity out of training and test at once. Without a ``group``
column they are derived from the file names: every run of two or more digits is an
identity token (FaceForensics++ ``183_253_1.mp4`` = target 183, source 253; DFD
``08__podium_speech.mp4`` = actor 08), and videos sharing a token are in the same
group (union-find); a name without tokens is its own group. ``--groups video`` makes
every video its own group (leave-one-video-out).

Evaluation: leave-one-group-out. For each group, the SVM is trained on the windows of
all other groups and scores the windows of the held-out videos; a video's score is
the mean window decision. AUC and EER are computed on the pooled out-of-fold video
scores; accuracy at p >= 0.5 uses, for each held-out group, a Platt sigmoid fitted on
the out-of-fold scores of the *other* groups. The shipped model is then fitted on all
windows, with the Platt sigmoid fitted on all out-of-fold video scores (as
``CalibratedClassifierCV(ensemble=False)`` does). Deterministic: no random state is
involved anywhere (libsvm without probability estimates is deterministic).
"""

from __future__ import annotations

import csv
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import features as F
from . import pipeline as P
from .svm import fit_platt, fit_svm

VIDEO_EXT = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
C_PARAM = 1.0


@dataclass
class Sample:
    path: Path
    label: int  # 1 = fake
    group: str


# ---------------------------------------------------------------------------- data listing


def _label(v: str) -> int:
    v = v.strip().lower()
    if v in ("1", "fake", "manipulated", "deepfake", "synthetic"):
        return 1
    if v in ("0", "real", "authentic", "original", "pristine"):
        return 0
    raise ValueError(f"unknown label {v!r} (use real/fake or 0/1)")


def list_samples(data: Path, labels: Path | None = None, groups: str = "auto") -> list[Sample]:
    """Videos and labels from ``real/``+``fake/`` folders or a labels CSV (see module docstring)."""
    labels = labels or (data / "labels.csv" if (data / "labels.csv").is_file() else None)
    out: list[tuple[Path, int, str | None]] = []
    if labels is not None:
        with open(labels, encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
                p = Path(row["path"])
                out.append((p if p.is_absolute() else data / p, _label(row["label"]), row.get("group") or None))
    else:
        for name, y in (("real", 0), ("fake", 1)):
            d = data / name
            if not d.is_dir():
                continue
            for root, _dirs, files in os.walk(d):
                out += [(Path(root) / f, y, None) for f in files if os.path.splitext(f)[1].lower() in VIDEO_EXT]
    out.sort(key=lambda t: str(t[0]))
    names = [p.stem for p, _, _ in out]
    auto = identity_groups(names) if groups == "auto" else names
    return [Sample(p, y, g or auto[i]) for i, (p, y, g) in enumerate(out)]


def identity_groups(names: list[str]) -> list[str]:
    """Group names that share an identity token (a run of ≥ 2 digits), by union-find."""
    from forensics.api import connected_components

    tokens = [re.findall(r"(?<!\d)\d{2,}(?!\d)", n) for n in names]
    comps = connected_components([[f"id:{t}" for t in toks] or [f"file:{i}"] for i, toks in enumerate(tokens)])
    # readable group names: the sorted tokens of the group
    members: dict[int, set[str]] = {}
    for c, toks, n in zip(comps, tokens, names):
        members.setdefault(c, set()).update(toks or [n])
    return ["+".join(sorted(members[c])) for c in comps]


# ---------------------------------------------------------------------------- features


def _sha256(path: Path) -> str:
    from forensics.api import sha256_file

    return sha256_file(path)


def video_traces_cached(path: Path, cache: Path | None) -> P.VideoTraces:
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        key = cache / f"{_sha256(path)}-{P.TRACE_VERSION.replace('/', '_')}.npz"
        vt = P.load_traces(key)
        if vt is not None:
            return vt
    vt = P.video_traces(P.media_for_path(path))
    if cache is not None:
        P.save_traces(key, vt)
    return vt


def video_windows(vt: P.VideoTraces) -> tuple[np.ndarray, str]:
    """Window features of the longest usable track, and a note when there is none."""
    if vt.fps < P.MIN_FPS:
        return np.zeros((0, len(F.FEATURES))), f"{vt.fps:.1f} fps"
    for tt in vt.tracks:  # longest first
        _, wins = P.track_windows(tt)
        if wins:
            return np.stack([w.features for w in wins]), ""
    return np.zeros((0, len(F.FEATURES))), "no face track of 5 s with 3 regions"


# ---------------------------------------------------------------------------- evaluation


def roc_metrics(y: np.ndarray, s: np.ndarray, p: np.ndarray | None = None) -> dict:
    """AUC and EER from scores ``s``; accuracy/confusion at p >= 0.5 when probabilities ``p`` are given."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(y, s)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    out = {"auc": round(float(roc_auc_score(y, s)), 4), "eer": round(float((fpr[i] + fnr[i]) / 2), 4)}
    if p is not None:
        pred = (p >= 0.5).astype(int)
        out.update({
            "accuracy": round(float((pred == y).mean()), 4),
            "threshold": 0.5,
            "confusion": {"tn": int(((pred == 0) & (y == 0)).sum()), "fp": int(((pred == 1) & (y == 0)).sum()),
                          "fn": int(((pred == 0) & (y == 1)).sum()), "tp": int(((pred == 1) & (y == 1)).sum())},
        })
    out.update({"n_test": int(len(y)), "n_test_positive": int(y.sum()), "n_test_negative": int((1 - y).sum())})
    return out


def _weights(vid: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each video weighs the same in total, and both classes weigh the same."""
    w = np.zeros(len(vid))
    for v in np.unique(vid):
        w[vid == v] = 1.0 / (vid == v).sum()
    for c in (0, 1):
        if (y == c).any():
            w[y == c] *= 0.5 * len(np.unique(vid)) / max(len(np.unique(vid[y == c])), 1)
    return w * len(w) / w.sum()


def cross_validate(X: np.ndarray, y: np.ndarray, vid: np.ndarray, groups: np.ndarray) -> dict:
    """Leave-one-group-out out-of-fold video scores (mean window decision) and window decisions."""
    videos = np.unique(vid)
    vy = np.array([y[vid == v][0] for v in videos])
    vg = np.array([groups[vid == v][0] for v in videos])
    oof = np.full(len(videos), np.nan)
    oof_win = np.full(len(X), np.nan)
    for g in np.unique(vg):
        test = groups == g
        tr = ~test
        if len(np.unique(y[tr])) < 2:
            continue
        model = fit_svm(X[tr], y[tr], F.FEATURES, _weights(vid[tr], y[tr]), C=C_PARAM)
        d = model.decision(X[test])
        oof_win[test] = d
        for v in np.unique(vid[test]):
            oof[np.searchsorted(videos, v)] = d[vid[test] == v].mean()
    # accuracy: Platt fitted without the held-out group
    prob = np.full(len(videos), np.nan)
    for g in np.unique(vg):
        other = (vg != g) & np.isfinite(oof)
        if len(np.unique(vy[other])) < 2:
            continue
        a, b = fit_platt(oof[other], vy[other])
        sel = (vg == g) & np.isfinite(oof)
        prob[sel] = 1 / (1 + np.exp(a * oof[sel] + b))
    return {"videos": videos, "y": vy, "groups": vg, "score": oof, "prob": prob, "window_score": oof_win}


# ---------------------------------------------------------------------------- training


def train(data: Path, out_dir: Path, labels: Path | None = None, groups: str = "auto", cache: Path | None = None,
          echo: Callable[[str], None] = print) -> dict:
    from forensics.models import write_card

    samples = list_samples(data, labels, groups)
    ny = sum(s.label for s in samples)
    if ny < 2 or len(samples) - ny < 2:
        raise SystemExit(f"need at least 2 real and 2 fake videos, found {len(samples) - ny} real and {ny} fake "
                         f"in {data}")
    echo(f"{len(samples)} videos ({len(samples) - ny} real, {ny} fake) in "
         f"{len(set(s.group for s in samples))} groups; extracting face-region colour traces")
    Xs, ys, vids, gs, skipped = [], [], [], [], []
    info = []
    t0 = time.time()
    for i, s in enumerate(samples):
        try:
            vt = video_traces_cached(s.path, cache)
            X, why = video_windows(vt)
        except Exception as exc:  # noqa: BLE001 - one bad video must not stop training; it is listed
            X, why, vt = np.zeros((0, len(F.FEATURES))), f"{type(exc).__name__}: {exc}", None
        rel = os.path.relpath(s.path, data)
        if len(X) == 0:
            skipped.append({"video": rel, "reason": why})
            echo(f"  [{i + 1}/{len(samples)}] {rel}: skipped ({why})")
            continue
        Xs.append(X)
        ys += [s.label] * len(X)
        vids += [rel] * len(X)
        gs += [s.group] * len(X)
        info.append({"video": rel, "label": "fake" if s.label else "real", "group": s.group, "windows": len(X),
                     "bits_per_pixel": None if vt.bits_per_pixel is None else round(vt.bits_per_pixel, 5)})
        echo(f"  [{i + 1}/{len(samples)}] {rel}: {len(X)} windows ({time.time() - t0:.0f} s)")
    X, y, vid, grp = np.concatenate(Xs), np.array(ys), np.array(vids), np.array(gs)
    cv = cross_validate(X, y, vid, grp)
    ok = np.isfinite(cv["score"]) & np.isfinite(cv["prob"])
    all_metrics = roc_metrics(cv["y"][ok], cv["score"][ok], cv["prob"][ok])
    # Headline figures: only videos of groups holding both classes, so that every real video is
    # compared with fakes made from the same identities and source (a real-only group from another
    # source -- other camera, resolution, frame rate -- is easy to separate for the wrong reason).
    mixed = np.array([len(np.unique(cv["y"][cv["groups"] == g])) == 2 for g in cv["groups"]])
    use = ok & mixed if (ok & mixed).sum() >= 4 and len(np.unique(cv["y"][ok & mixed])) == 2 else ok
    metrics = roc_metrics(cv["y"][use], cv["score"][use], cv["prob"][use])
    wok = np.isfinite(cv["window_score"])
    window_auc = roc_metrics(y[wok], cv["window_score"][wok])["auc"]
    ngroups = len(np.unique(cv["groups"]))
    sources = str(data)
    subset = ("" if use.sum() == ok.sum() else
              f"; figures over the {int(use.sum())} videos of the {len(np.unique(cv['groups'][use]))} groups that hold "
              f"both real and fake videos (all {int(ok.sum())} videos: AUC {all_metrics['auc']:.3f})")
    metrics["dataset"] = (f"leave-one-identity-group-out cross-validation over {int(ok.sum())} videos "
                          f"({int((cv['y'][ok] == 0).sum())} real, {int(cv['y'][ok].sum())} fake) in {ngroups} "
                          f"groups from {sources}{subset}; per-video score = mean SVM decision over 5 s windows")
    metrics["command"] = f"forensics train rppg --data {sources}" + (f" --labels {labels}" if labels else "") + \
        (f" --groups {groups}" if groups != "auto" else "")
    metrics["window_auc"] = window_auc
    metrics["all_videos"] = {k: all_metrics[k] for k in ("auc", "eer", "accuracy", "n_test", "n_test_positive",
                                                          "n_test_negative")}
    per_group = {}
    for g in np.unique(cv["groups"]):
        sel = (cv["groups"] == g) & ok
        per_group[g] = {"videos": int(sel.sum()), "real": int((cv["y"][sel] == 0).sum()),
                        "fake": int(cv["y"][sel].sum())}
    # final model: all windows; Platt on all out-of-fold video scores
    model = fit_svm(X, y, F.FEATURES, _weights(vid, y), C=C_PARAM)
    model.platt_a, model.platt_b = fit_platt(cv["score"][ok], cv["y"][ok])
    train_scores = np.array([model.decision(X[vid == v]).mean() for v in cv["videos"]])
    per_feature = feature_summary(X, y, vid)
    train_auc = roc_metrics(cv["y"], train_scores)["auc"]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "rppg_svm.json").write_text(json.dumps(model.to_json(), separators=(",", ":")) + "\n",
                                           encoding="utf-8")
    oof_rows = [{"video": v, "label": int(l), "group": str(g), "score": round(float(s), 5),
                 "probability": None if not np.isfinite(p) else round(float(p), 4)}
                for v, l, g, s, p in zip(cv["videos"], cv["y"], cv["groups"], cv["score"], cv["prob"])]
    card = {
        "name": "rppg",
        "version": "1.0.0",
        "architecture": (f"RBF SVM (C={C_PARAM}, gamma='scale') over {len(F.FEATURES)} standardised rPPG window "
                         f"features ({F.WINDOW_S:g} s windows every {F.STEP_S:g} s); video score = mean window "
                         "decision; Platt sigmoid fitted on out-of-fold video scores"),
        "features": list(F.FEATURES),
        "files": {"weights": {"path": "rppg_svm.json"}},
        "training": {
            "videos": len(info), "real": sum(1 for r in info if r["label"] == "real"),
            "fake": sum(1 for r in info if r["label"] == "fake"), "windows": int(len(X)),
            "support_vectors": int(len(model.support_vectors)), "groups": per_group, "skipped": skipped,
            "trace_version": P.TRACE_VERSION,
            "per_video": info,
        },
        "metrics": metrics,
        "out_of_fold": oof_rows,
        "feature_summary": per_feature,
        "train_metrics": {"auc": train_auc},
        "licence": ("weights: Apache-2.0 code, but trained on FaceForensics++ (research / non-commercial terms of "
                    "use) and on landmarks from dlib's iBUG 300-W model (non-commercial)"),
    }
    write_card(out_dir, card, model_card_markdown(card))
    echo(f"out-of-fold (leave-one-group-out, {ngroups} groups): video AUC {metrics['auc']:.3f}, "
         f"EER {metrics['eer']:.3f}, accuracy {metrics['accuracy']:.3f} on {metrics['n_test']} videos of mixed groups; "
         f"all {all_metrics['n_test']} videos: AUC {all_metrics['auc']:.3f}; window AUC {window_auc:.3f}; "
         f"training-set AUC {train_auc:.3f}; wrote {out_dir}")
    return metrics


def feature_summary(X: np.ndarray, y: np.ndarray, vid: np.ndarray) -> dict:
    """Per feature: video-level class means, single-feature AUC (fake high), and whether the
    direction agrees with FakeCatcher's premise (:data:`features.PREMISE`)."""
    from sklearn.metrics import roc_auc_score

    videos = np.unique(vid)
    V = np.stack([X[vid == v].mean(axis=0) for v in videos])
    vy = np.array([y[vid == v][0] for v in videos])
    out = {}
    for i, f in enumerate(F.FEATURES):
        auc = float(roc_auc_score(vy, V[:, i])) if len(np.unique(V[:, i])) > 1 else 0.5
        real, fake = float(V[vy == 0, i].mean()), float(V[vy == 1, i].mean())
        agrees = (real > fake) == (F.PREMISE[f] > 0) if real != fake else None
        out[f] = {"mean_real": round(real, 4), "mean_fake": round(fake, 4), "auc_fake_high": round(auc, 3),
                  "agrees_with_premise": agrees}
    return out


def model_card_markdown(card: dict) -> str:
    m, t = card["metrics"], card["training"]
    groups = "\n".join(f"| `{g}` | {v['videos']} | {v['real']} | {v['fake']} |" for g, v in t["groups"].items())
    fs = card["feature_summary"]
    feats = "\n".join(f"| `{f}` | {v['mean_real']:.3f} | {v['mean_fake']:.3f} | {v['auc_fake_high']:.2f} | "
                      f"{'real higher' if F.PREMISE[f] > 0 else 'fake higher'} | "
                      f"{'yes' if v['agrees_with_premise'] else 'NO'} |" for f, v in fs.items())
    against = [f for f, v in fs.items() if v["agrees_with_premise"] is False]
    ffpp = any("faceforensics" in r["video"].lower() for r in card["out_of_fold"])
    data_note = ("""FaceForensics++ c40 (heavily compressed H.264): originals of 6 YouTube identities and 5
DeepFakeDetection actor clips; fakes = the YouTube identities under Deepfakes, Face2Face,
FaceSwap and NeuralTextures. """ if ffpp else "")
    skipped = "\n".join(f"- `{s['video']}`: {s['reason']}" for s in t["skipped"]) or "- none"
    oof = "\n".join(f"| `{r['video']}` | {'fake' if r['label'] else 'real'} | {r['score']:+.3f} | "
                    f"{'' if r['probability'] is None else format(r['probability'], '.2f')} |" for r in card["out_of_fold"])
    return f"""# Model card: `rppg` SVM

**Detector:** `forensics_plugins/rppg` -- biological-signal (rPPG) consistency, after FakeCatcher
(Ciftci, Demir & Yin, TPAMI 2020). Pulse signals by CHROM (de Haan & Jeanne 2013), POS
(Wang et al. 2017) and GREEN (Verkruysse et al. 2008) from six face regions and a 4×4
PPG map, on face tracks from the shared face pipeline (`forensics/faces.py`).

**Model:** {card['architecture']}. Stored as plain JSON (`rppg_svm.json`: feature
names, clipping range, standardisation, support vectors, dual coefficients, intercept,
gamma, Platt A/B); SHA-256 in `card.json`. No pickles.

## Features
Definitions: `forensics_plugins/rppg/features.py`. Video-level class means on the training data,
single-feature AUC (fake = high), and whether the direction matches FakeCatcher's
premise (a real face shows a clearer pulse, shared by all regions and stable in time):

| feature | mean real | mean fake | AUC | premise | agrees |
|---|---|---|---|---|---|
{feats}

{len(against)} of {len(fs)} features go against the premise on this data
({', '.join(f'`{f}`' for f in against) or 'none'}). Where the pulse itself is not
measurable (SNR near or below 0 dB in both classes), the SVM learns whatever separates
the classes in the colour traces -- e.g. common-mode colour flicker of a blended face,
which makes a fake's regions *more* alike. Such directions need not hold on other data.

## Training data
{t['videos']} videos ({t['real']} real, {t['fake']} fake), {t['windows']} windows,
{t['support_vectors']} support vectors. {data_note}Groups (an identity and every video
showing it; the model never sees a group it is tested on):

| group | videos | real | fake |
|---|---|---|---|
{groups}

Skipped videos:
{skipped}

## Evaluation: leave-one-group-out cross-validation (not a held-out test set)
There are far too few videos for a separate test split, so every figure below is
out-of-fold: each video is scored by a model that never saw any video of its identity
group.

Headline figures (these are `card.json` `metrics`, shown in reports and used as the
fusion weight) count only the videos of groups that hold both real and fake videos, so
each real video is compared with fakes of the same identities and source. A group of
real videos only (other camera, resolution, frame rate) can be separated for the wrong
reason; all videos together give AUC {m['all_videos']['auc']:.3f}, EER
{m['all_videos']['eer']:.1%} on {m['all_videos']['n_test']} videos.

- **video AUC {m['auc']:.3f}**, EER {m['eer']:.1%}, accuracy at p ≥ 0.5 {m['accuracy']:.1%}
  on {m['n_test']} videos ({m['n_test_negative']} real, {m['n_test_positive']} fake;
  accuracy mostly reflects the share of fakes)
- confusion at 0.5: {json.dumps(m['confusion'])}
- window-level AUC: {m['window_auc']:.3f}
- training-set video AUC (over-fitting check): {card['train_metrics']['auc']:.3f}

Reproduce: `{m['command']}`

Out-of-fold scores (mean window decision; > 0 leans fake):

| video | label | score | P(fake) |
|---|---|---|---|
{oof}

## Limits
- {m['n_test']} videos are far too few to train or measure a deepfake detector: with
  {m['n_test_negative']} real videos the AUC above moves by ±0.2 from one video's score, and
  says little about other data.
- On heavily compressed video the pulse is mostly quantised away in real and fake faces
  alike; the detector reports "inconclusive" below {P.MIN_BITS_PER_PIXEL} bit/pixel, but
  above that threshold the pulse can still be too weak to measure (see the SNR means).
- Fakes that change only expressions or the mouth (Face2Face, NeuralTextures) keep the
  target's skin, and so its pulse: the hardest case for this method.
- Licence: the training videos' terms apply to the weights (FaceForensics++: research
  only); the dlib 68-point landmark model was trained on iBUG 300-W (non-commercial).
"""
