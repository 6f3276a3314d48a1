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
from .card import card_fields
from .svm import fit_svm, platt_from_calibrator

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


def video_metrics(y: np.ndarray, s: np.ndarray, p: np.ndarray | None = None, groups: np.ndarray | None = None) -> dict:
    """:func:`forensics.api.roc_metrics` of scores ``s`` (AUC, its bootstrap interval, EER); accuracy and
    confusion at P >= 0.5 from probabilities ``p`` when given. ``groups`` (e.g. the video of each row, when a
    video is scored in several folds) makes the bootstrap resample whole groups."""
    from forensics.api import bootstrap_ci, roc_metrics

    y, s = np.asarray(y).astype(int), np.asarray(s, dtype=np.float64)
    out = roc_metrics(y, s, threshold=0.0)  # SVM decision > 0 leans fake
    if groups is not None and out.get("auc") is not None:
        out["auc_ci95"] = bootstrap_ci(y, s, groups=np.asarray(groups))
        out["ci_resampling"] = "whole videos (a video scored in several folds moves as one)"
    if p is not None:
        pm = roc_metrics(y, np.asarray(p, dtype=np.float64), threshold=0.5, ci_resamples=0)
        out.update({k: pm[k] for k in ("accuracy", "balanced_accuracy", "tpr", "fpr", "confusion", "ece")})
        out["threshold"] = 0.5
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
        a, b = platt_from_calibrator(oof[other], vy[other])
        sel = (vg == g) & np.isfinite(oof)
        prob[sel] = 1 / (1 + np.exp(a * oof[sel] + b))
    return {"videos": videos, "y": vy, "groups": vg, "score": oof, "prob": prob, "window_score": oof_win}


FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")  # FF++ file suffix "", _1, _2, _3


def manipulation_method(name: str, label: int) -> str | None:
    """The manipulation method of a fake video: FaceForensics++ ``target_source[_k]`` names (``k`` = 1..3 for
    Face2Face, FaceSwap, NeuralTextures; none = Deepfakes, the layout of the project's shared FF++ clips), else
    the name of the folder it lies in. ``None`` for real videos."""
    if not label:
        return None
    m = re.search(r"(?<!\d)\d{3}_\d{3}(?:_(\d))?$", Path(name).stem)
    if m:
        k = int(m.group(1) or 0)
        return FFPP_METHODS[k] if k < len(FFPP_METHODS) else f"method_{k}"
    return Path(name).parent.name or "unknown"


def cross_method_validate(X: np.ndarray, y: np.ndarray, vid: np.ndarray, groups: np.ndarray,
                          methods: np.ndarray) -> list[dict]:
    """Leave one manipulation method **and** one identity group out.

    For every identity group ``g`` holding both classes and every method ``m`` among its fakes: the SVM is
    trained on all windows except those of ``g`` and except every fake made by ``m`` (so neither the people
    nor the manipulation method were seen), then scores ``g``'s real videos and ``g``'s ``m`` fakes. A real
    video is thus scored once per method fold. Returns one row per (fold, video).
    """
    rows = []
    for g in sorted(set(groups.tolist())):
        in_g = groups == g
        if len(np.unique(y[in_g])) < 2:
            continue
        for m in sorted({str(x) for x in methods[in_g & (y == 1)].tolist()}):
            tr = ~in_g & ((y == 0) | (methods != m))
            if len(np.unique(y[tr])) < 2:
                continue
            model = fit_svm(X[tr], y[tr], F.FEATURES, _weights(vid[tr], y[tr]), C=C_PARAM)
            test = in_g & ((y == 0) | (methods == m))
            d = model.decision(X[test])
            for v in np.unique(vid[test]):
                sel = vid[test] == v
                rows.append({"video": str(v), "label": int(y[test][sel][0]), "group": str(g), "method_out": m,
                             "score": round(float(d[sel].mean()), 5)})
    return rows


# ---------------------------------------------------------------------------- training


def train(data: Path, out_dir: Path, labels: Path | None = None, groups: str = "auto", cache: Path | None = None,
          echo: Callable[[str], None] = print, command: str | None = None) -> dict:
    from forensics.api import write_model_card

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
    all_metrics = video_metrics(cv["y"][ok], cv["score"][ok], cv["prob"][ok])
    # Headline figures: only videos of groups holding both classes, so that every real video is
    # compared with fakes made from the same identities and source (a real-only group from another
    # source -- other camera, resolution, frame rate -- is easy to separate for the wrong reason).
    mixed = np.array([len(np.unique(cv["y"][cv["groups"] == g])) == 2 for g in cv["groups"]])
    use = ok & mixed if (ok & mixed).sum() >= 4 and len(np.unique(cv["y"][ok & mixed])) == 2 else ok
    metrics = video_metrics(cv["y"][use], cv["score"][use], cv["prob"][use])
    wok = np.isfinite(cv["window_score"])
    window_auc = video_metrics(y[wok], cv["window_score"][wok])["auc"]
    ngroups = len(np.unique(cv["groups"]))
    sources = Path(data).name  # the data set's name: no machine paths in the card
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
    # cross-method (and cross-identity) figure: the headline, since deployment meets methods never trained on
    meth = np.array([manipulation_method(v, int(lab)) or "" for v, lab in zip(vid, y)])
    cm_rows = cross_method_validate(X, y, vid, grp, meth)
    cross = None
    if cm_rows and len({r["label"] for r in cm_rows}) == 2:
        cy = np.array([r["label"] for r in cm_rows])
        cs = np.array([r["score"] for r in cm_rows])
        cross = video_metrics(cy, cs, groups=np.array([r["video"] for r in cm_rows]))
        folds = sorted({(r["group"], r["method_out"]) for r in cm_rows})
        cross["per_method"] = {}
        for m in sorted({r["method_out"] for r in cm_rows}):
            sel = np.array([r["method_out"] == m for r in cm_rows])
            mm = video_metrics(cy[sel], cs[sel])
            cross["per_method"][m] = {k: mm[k] for k in ("auc", "auc_ci95", "n_test", "n_test_positive",
                                                         "n_test_negative")}
        cross.update({
            "kind": "cross-method (leave one manipulation method and one identity group out)",
            "dataset": (f"{len(folds)} folds over {len({r['video'] for r in cm_rows})} videos of the "
                        f"{len({r['group'] for r in cm_rows})} identity groups holding both classes in {Path(data).name}: "
                        "each fold trains without the group's people and without the held-out method's fakes, and "
                        f"scores the group's real videos and its fakes by that method ({len(cm_rows)} scores; a real "
                        "video is scored once per fold); per-video score = mean SVM decision over 5 s windows"),
            "level": "video",
        })
    per_group = {}
    for g in np.unique(cv["groups"]):
        sel = (cv["groups"] == g) & ok
        per_group[g] = {"videos": int(sel.sum()), "real": int((cv["y"][sel] == 0).sum()),
                        "fake": int(cv["y"][sel].sum())}
    # final model: all windows; Platt on all out-of-fold video scores
    model = fit_svm(X, y, F.FEATURES, _weights(vid, y), C=C_PARAM)
    model.platt_a, model.platt_b = platt_from_calibrator(cv["score"][ok], cv["y"][ok])
    train_scores = np.array([model.decision(X[vid == v]).mean() for v in cv["videos"]])
    per_feature = feature_summary(X, y, vid)
    train_auc = video_metrics(cv["y"], train_scores)["auc"]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "rppg_svm.json").write_text(json.dumps(model.to_json(), separators=(",", ":")) + "\n",
                                           encoding="utf-8")
    oof_rows = [{"video": v, "label": int(l), "group": str(g), "score": round(float(s), 5),
                 "probability": None if not np.isfinite(p) else round(float(p), 4)}
                for v, l, g, s, p in zip(cv["videos"], cv["y"], cv["groups"], cv["score"], cv["prob"])]
    command = command or (f"forensics train rppg --data $DATA/{Path(data).name}" + (" --labels LABELS" if labels else "")
                          + (f" --groups {groups}" if groups != "auto" else ""))
    metrics["command"] = command
    metrics["kind"] = "in-source (leave one identity group out; the same methods and source in training)"
    metrics["dataset"] = metrics["dataset"].replace(str(data), Path(data).name)
    headline = dict(cross, command=command) if cross is not None else metrics
    card = {
        "name": "rppg",
        "version": "1.1.0",
        "architecture": (f"RBF SVM (C={C_PARAM}, gamma='scale') over {len(F.FEATURES)} standardised rPPG window "
                         f"features ({F.WINDOW_S:g} s windows every {F.STEP_S:g} s); video score = mean window "
                         "decision; Platt sigmoid (forensics.api.Calibrator, slope constrained to 'higher = more "
                         "fake') fitted on out-of-fold video scores"),
        "features": list(F.FEATURES),
        "files": {"weights": {"path": "rppg_svm.json"}},
        "training": {
            "command": command,
            "videos": len(info), "real": sum(1 for r in info if r["label"] == "real"),
            "fake": sum(1 for r in info if r["label"] == "fake"), "windows": int(len(X)),
            "support_vectors": int(len(model.support_vectors)), "groups": per_group, "skipped": skipped,
            "trace_version": P.TRACE_VERSION,
            "per_video": info,
        },
        "metrics": headline,
        "evaluations": {"leave-one-identity-group-out": metrics,
                        **({"cross-method": cross} if cross is not None else {})},
        "out_of_fold": oof_rows,
        "cross_method_rows": cm_rows,
        "feature_summary": per_feature,
        "train_metrics": {"auc": train_auc},
        "data": [{"name": f"{Path(data).name}", "role": "training + cross-validation",
                  "source": "FaceForensics++ c40 clips as collected in the project's shared data (per-file source "
                            "repository and path in its MANIFEST.csv)",
                  "count": len(info), "licence": "FaceForensics++ terms of use: research / non-commercial",
                  "label": "FaceForensics++ folders: original = real, manipulated/<method> = fake"}],
        "licence": ("weights: Apache-2.0 code, but trained on FaceForensics++ (research / non-commercial terms of "
                    "use) and on landmarks from dlib's iBUG 300-W model (non-commercial)"),
    }
    old_card = out_dir / "card.json"
    if old_card.is_file():  # keep measurements made by other commands (heart-rate benchmark)
        prev = json.loads(old_card.read_text(encoding="utf-8"))
        if "heart_rate" in prev:
            card["heart_rate"] = prev["heart_rate"]
    write_model_card(out_dir, card_fields(card))
    echo(f"leave-one-group-out ({ngroups} groups): video AUC {metrics['auc']:.3f} (95 % CI {metrics['auc_ci95']}), "
         f"EER {metrics['eer']:.3f} on {metrics['n_test']} videos of mixed groups; all {all_metrics['n_test']} "
         f"videos: AUC {all_metrics['auc']:.3f}; window AUC {window_auc:.3f}; training-set AUC {train_auc:.3f}")
    if cross is not None:
        echo(f"cross-method (headline): AUC {cross['auc']:.3f} (95 % CI {cross['auc_ci95']}), EER {cross['eer']:.3f}, "
             f"{cross['n_test']} scores; per method: "
             + ", ".join(f"{m} {v['auc']}" for m, v in cross["per_method"].items()))
    echo(f"wrote {out_dir}")
    metrics = headline
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


def update_card(model_dir: Path | None = None, **fields) -> Path:
    """Add or replace top-level fields of the installed rPPG card (e.g. ``heart_rate``) and rewrite it
    (``card.json`` + ``MODEL_CARD.md``) with :func:`forensics.api.write_model_card`."""
    from forensics.api import builtin_models_dir, write_model_card

    d = Path(model_dir or builtin_models_dir() / "rppg")
    card = json.loads((d / "card.json").read_text(encoding="utf-8"))
    card.update(fields)
    return write_model_card(d, card_fields(card))
