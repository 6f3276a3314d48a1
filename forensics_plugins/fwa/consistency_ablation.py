"""Ablation of the FWA slot: hand-crafted inner-vs-outer consistency features (:mod:`.consistency`) alone, the
frozen Lite0 probe features alone, and both concatenated. ``python -m forensics_plugins.fwa.consistency_ablation``
prints every figure.

Training pairs are exactly those of :mod:`.probe` (same faces, same seeds: :func:`.train.make_pair`), so the
cached probe features of those pairs (``--probe-dir``, written by ``python -m forensics_plugins.fwa.probe``) line
up row by row with the consistency features computed here. A logistic regression (standardised features, L2; C
picked on held-out identities' synthetic SBI pairs, never on a cross-check) is fitted on real vs negative pairs
(``sbi``, ``warp``, ``sbi+warp``: the union of both pair sets, or ``sbi_regen``: :func:`.sbi.regenerate`). Cross-checks are scored with the detector's rule
(:mod:`.infer`: mean P over a track's frames, maximum over tracks) and printed as item AUC with a stratified
bootstrap 95 % interval and the counts, and face-crop AUC with an interval over whole files. Features per
cross-check file are cached in ``--work-dir`` (npz, keyed by the file's SHA-256, the input size and
:data:`.consistency.FEATURE_VERSION`). Nothing here is shipped.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import re
import time
from pathlib import Path

import numpy as np

from . import consistency as C
from .data import cached_arrays, extract, labelled_media, load_arrays, shrink
from .probe import add_data_args
from .warp import cut_roi, roi_box


def roi_and_landmarks(crop: np.ndarray, lm: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The detector's network input for one cached face (:func:`.infer.roi_input`) and its landmarks there."""
    crop, lm = shrink(crop, np.asarray(lm, dtype=np.float32))
    box = roi_box(lm, crop.shape[:2], rng=None)
    return cut_roi(crop, box, size), C.roi_landmarks(lm, box, size)


def pair_consistency(faces, idx, kind: str, size: int, seed: int, salt: int) -> tuple[np.ndarray, np.ndarray]:
    """Consistency features of the (real, negative) pairs of :func:`.probe.pair_features` (same draws)."""
    from .train import make_pair, negative_kind

    pos, neg = [], []
    for n, i in enumerate(idx):
        r = np.random.default_rng([seed, salt, n])
        a, b, lm = make_pair(*faces[int(i)], negative_kind(kind, r), r, size, with_landmarks=True)
        pos.append(C.features(a, lm))
        neg.append(C.features(b, lm))
    return np.stack(pos + neg), np.r_[np.zeros(len(pos)), np.ones(len(neg))]


def _auc(y, s) -> str:
    from forensics.api import roc_metrics

    m = roc_metrics(np.asarray(y), np.asarray(s), ci_resamples=1000, seed=0)
    ci = m.get("auc_ci95") or [float("nan")] * 2
    return f"{m['auc']:.3f} ({ci[0]:.2f}–{ci[1]:.2f})"


def _pair_key(name: str) -> str | None:
    """``<source>__<clip>`` for side-by-side original/swap halves (``..._original`` / ``..._swap``), else None."""
    m = re.match(r"(.+)__(left|right)_(original|swap)$", Path(name).stem)
    return m.group(1) if m else None


def diagnose(sets: dict, checks: dict) -> None:
    """Per-feature AUCs (no fitting) and matched-pair signs; see ``--diagnose``."""
    from sklearn.metrics import roc_auc_score

    xs, ys = sets["sbi"]["cons"][2], sets["sbi"]["cons"][3]
    xw, yw = sets["warp"]["cons"][0], sets["warp"]["cons"][1]
    per = {}
    for name, items in checks.items():
        y = np.array([it[0] for it in items])
        x = np.stack([np.concatenate(it[2]).mean(0) for it in items])
        per[name] = (y, x)
    print("\nper-feature AUC (higher value = manipulated); in-source SBI held-out pairs, warp training pairs, "
          "cross-checks: file mean over frames")
    print("feature | sbi | warp | " + " | ".join(per))
    order = np.argsort(-np.abs(np.array([roc_auc_score(ys, xs[:, j]) for j in range(C.N_FEATURES)]) - 0.5))
    for j in order:
        row = [roc_auc_score(ys, xs[:, j]), roc_auc_score(yw, xw[:, j])]
        row += [roc_auc_score(y, x[:, j]) for y, x in per.values()]
        print(f"{C.FEATURE_NAMES[j]} | " + " | ".join(f"{v:.2f}" for v in row))
    # temporal instability (fixed a priori, nothing fitted): a frame-by-frame synthesised face should let its
    # inside-vs-outside sharpness / noise contrasts jump between consecutive scored frames more than a real one
    real_train = sets["sbi"]["cons"][0][sets["sbi"]["cons"][1] == 0]
    scale = real_train.std(0) + 1e-6
    cols = [j for j, n in enumerate(C.FEATURE_NAMES) if n.split("_")[-1] in ("lap", "hp", "srm", "grad", "hfr")]
    print("\ntemporal instability (median over consecutive scored frames of the mean |change| of the sharpness / noise "
          "contrasts, in units of their spread over real training faces; item = maximum over tracks of >= 4 frames; "
          "higher = manipulated, fixed in advance):")
    for name, items in checks.items():
        y, sc = [], []
        for label, _, cons, _ in items:
            v = [float(np.median((np.abs(np.diff(t[:, cols], axis=0)) / scale[cols]).mean(1)))
                 for t in cons if len(t) >= 4]
            if v:
                y.append(label)
                sc.append(max(v))
        if len(set(y)) == 2:
            print(f"   {name}: AUC {_auc(y, sc)}; {len(y) - sum(y)} real / {sum(y)} fake videos")
    for name, items in checks.items():
        byname = {}
        for (label, sha, cons, probe), fname in zip(items, checks_names.get(name, [])):
            k = _pair_key(fname)
            if k:
                byname.setdefault(k, {})[label] = np.concatenate(cons).mean(0)
        pairs = {k: v for k, v in byname.items() if len(v) == 2}
        if len(pairs) < 5:
            continue
        diff = np.stack([v[1] - v[0] for v in pairs.values()])
        print(f"\n{name}: {len(pairs)} matched original/swap pairs; share of pairs where the swap's value is higher "
              "(0.5 = no cue), features ordered as above")
        print("; ".join(f"{C.FEATURE_NAMES[j]} {np.mean(diff[:, j] > 0):.2f}" for j in order[:30]))


checks_names: dict[str, list[str]] = {}


def fit_head(head: str, xtr, ytr, xho, yho, n_cons: int):
    """``(score_fn, description)``: a classifier on training pairs; its setting (L2 strength C, or the trees'
    size) picked on the held-out identities' SBI pairs (never on a cross-check). The first ``n_cons`` columns
    are the consistency features (squared too with ``quadratic``)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    if head == "gbdt":
        from sklearn.ensemble import HistGradientBoostingClassifier

        best = None
        for leaves in (7, 15, 31):
            clf = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, max_leaf_nodes=leaves,
                                                 l2_regularization=1.0, random_state=0).fit(xtr, ytr)
            auc = roc_auc_score(yho, clf.decision_function(xho))
            if best is None or auc > best[0]:
                best = (auc, leaves, clf)
        clf = best[2]
        return clf.decision_function, f"trees with {best[1]} leaves"
    scaler = StandardScaler().fit(xtr)

    def expand(x):
        z = scaler.transform(x)
        if head == "quadratic" and n_cons:
            q = np.clip(z[:, :n_cons], -6, 6) ** 2
            z = np.concatenate([z, q - 1.0], 1)
        return z

    ztr, zho = expand(xtr), expand(xho)
    best = None
    for c in (0.001, 0.01, 0.1, 1.0):
        clf = LogisticRegression(C=c, max_iter=5000).fit(ztr, ytr)
        auc = roc_auc_score(yho, clf.decision_function(zho))
        if best is None or auc > best[0]:
            best = (auc, c, clf)
    clf = best[2]
    return (lambda x: clf.decision_function(expand(x))), f"C={best[1]}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_args(ap)
    ap.add_argument("--probe-dir", type=Path, default=None,
                    help="--work-dir of `python -m forensics_plugins.fwa.probe` (its cached Lite0 features)")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--pairs", type=int, default=3000)
    ap.add_argument("--negatives", action="append", choices=("sbi", "warp", "sbi+warp", "sbi_regen"),
                    help="training negatives to compare [default: sbi, warp, sbi+warp]")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--features", action="append", choices=("cons", "probe", "cons+probe"),
                    help="feature sets to compare [default: all three]")
    ap.add_argument("--head", action="append", choices=("linear", "quadratic", "gbdt"),
                    help="linear: logistic regression; quadratic: the same on the standardised consistency features "
                         "and their squares (a deviation either way counts: SBI sharpens or blurs either copy); gbdt: "
                         "gradient-boosted trees on the consistency features [default: linear, quadratic]")
    ap.add_argument("--diagnose", action="store_true",
                    help="also print each consistency feature's own AUC (file mean over frames) per data set, and "
                         "for matched original/swap pairs (same clip, same encoding) how often the swap's value is "
                         "higher; diagnostics only, nothing is fitted or chosen on them")
    a = ap.parse_args(argv)
    a.negatives = a.negatives or ["sbi", "warp", "sbi+warp"]
    a.features = a.features or ["cons", "probe", "cons+probe"]
    a.head = a.head or ["linear", "quadratic"]

    import cv2
    from sklearn.metrics import roc_auc_score

    from .infer import aggregate_track
    from .probe import _training_faces, columns
    from .train import clustered_auc_ci

    cv2.setNumThreads(a.threads)
    t0 = time.time()
    train, held, src = _training_faces(a.faces, a.manifest, a.cache)
    counts = {s: src.count(s) for s in set(src)}
    w = np.array([math.sqrt(counts[s]) / counts[s] for s in src])
    idx = np.random.default_rng([a.seed, 8_000_000]).choice(len(train), size=a.pairs, replace=True, p=w / w.sum())
    held = held[:: max(1, len(held) // 400)][:400]
    a.work_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(a.manifest.read_bytes()).hexdigest()
    mean_cols = columns("mean")

    def probe_train(kind: str):
        if a.probe_dir is None:
            return None
        key = hashlib.sha256(f"{digest}|{a.size}|{a.pairs}|{kind}|{a.seed}|probe/2".encode()).hexdigest()[:16]
        f = a.probe_dir / f"probe-train-{key}.npz"
        if not f.is_file():
            return None
        with np.load(f) as z:
            return z["xtr"][:, mean_cols], z["xho"][:, mean_cols]

    sets = {}
    for kind in ["sbi", "warp"] + (["sbi_regen"] if "sbi_regen" in a.negatives else []):
        key = hashlib.sha256(f"{digest}|{a.size}|{a.pairs}|{kind}|{a.seed}|{C.FEATURE_VERSION}".encode()).hexdigest()
        f = a.work_dir / f"cons-train-{key[:16]}.npz"
        if f.is_file():
            with np.load(f) as z:
                xtr, ytr, xho, yho = z["xtr"], z["ytr"], z["xho"], z["yho"]
        else:
            xtr, ytr = pair_consistency(train, idx, kind, a.size, a.seed, 8_100_000)
            xho, yho = pair_consistency(held, range(len(held)), "sbi", a.size, a.seed, 7_000_000)
            np.savez(f, xtr=xtr, ytr=ytr, xho=xho, yho=yho)
        sets[kind] = {"cons": (xtr, ytr, xho, yho), "probe": probe_train(kind)}
        print(f"consistency features of {len(xtr)} {kind} training images and {len(xho)} held-out: "
              f"{time.time() - t0:.0f} s; probe features {'found' if sets[kind]['probe'] else 'not found'}",
              flush=True)

    ex = [re.compile(r) for r in a.exclude]
    checks = {}
    t_feat, n_feat = 0.0, 0

    def timed_features(crops, lms) -> np.ndarray:  # one track's features, timed for the cost line
        nonlocal t_feat, n_feat
        t1 = time.perf_counter()
        out = np.stack([C.features(*roi_and_landmarks(cr, lm, a.size)) for cr, lm in zip(crops, lms)])
        t_feat += time.perf_counter() - t1
        n_feat += len(crops)
        return out

    for d in a.cross_check:
        items = []
        for label, p in labelled_media(d, ex):
            ff = extract(p, a.cache)
            if not ff.tracks:
                continue
            cons = cached_arrays(
                a.work_dir / f"cons-x-{ff.sha256[:24]}-{a.size}-{C.FEATURE_VERSION.replace('/', '')}.npz",
                lambda ff=ff: [timed_features(c, lms) for c, lms, _ in ff.tracks])
            probe = None
            if a.probe_dir is not None:
                got = load_arrays(a.probe_dir / f"probe-x-{ff.sha256[:24]}-{a.size}.npz")
                probe = None if got is None else [t[:, mean_cols] for t in got]
            items.append((label, ff.sha256, cons, probe))
            checks_names.setdefault(d.name, []).append(p.name)
        checks[d.name] = items
        print(f"  features of {d.name}: {len(items)} files with a face "
              f"({sum(it[3] is not None for it in items)} with cached probe features); {time.time() - t0:.0f} s",
              flush=True)
    if n_feat:
        print(f"consistency features: {1000 * t_feat / n_feat:.2f} ms per face crop ({n_feat} crops computed now)")

    if a.diagnose:
        diagnose(sets, checks)

    def design(kind: str, feats: str):
        parts = [sets[k] for k in (("sbi", "warp") if kind == "sbi+warp" else (kind,))]
        if feats != "cons" and any(p["probe"] is None for p in parts):
            return None
        xs, ys = [], []
        for p in parts:
            xc, y, _, _ = p["cons"]
            blocks = {"cons": [xc], "probe": [p["probe"][0]], "cons+probe": [xc, p["probe"][0]]}[feats]
            xs.append(np.concatenate(blocks, 1))
            ys.append(y)
        p0 = sets["sbi"]
        hc, yh = p0["cons"][2], p0["cons"][3]
        hblocks = {"cons": [hc], "probe": [p0["probe"][1]] if p0["probe"] else None,
                   "cons+probe": [hc, p0["probe"][1]] if p0["probe"] else None}[feats]
        if hblocks is None:
            return None
        return np.concatenate(xs), np.concatenate(ys), np.concatenate(hblocks, 1), yh

    def item_x(cons, probe, feats):
        if feats == "cons":
            return cons
        if probe is None:
            return None
        return probe if feats == "probe" else [np.concatenate([c, q], 1) for c, q in zip(cons, probe)]

    print(f"\nAUC (95 % CI); item = the detector's rule; C picked on held-out identities' SBI pairs; "
          f"{C.N_FEATURES} consistency features, {len(mean_cols)} probe features")
    def matched(name, items, y, s, feats) -> str:
        """Matched original/swap halves of one clip (same encoding): share of pairs whose swap scores higher."""
        names = [f for f, it in zip(checks_names.get(name, []), items) if item_x(it[2], it[3], feats) is not None]
        by: dict[str, dict[int, float]] = {}
        for f, lab, sc in zip(names, y, s):
            k = _pair_key(f)
            if k:
                by.setdefault(k, {})[lab] = sc
        d = np.array([v[1] - v[0] for v in by.values() if len(v) == 2])
        if len(d) < 5:
            return ""
        win = (d > 0) + 0.5 * (d == 0)
        boot = np.random.default_rng(0).choice(win, size=(1000, len(win))).mean(1)
        lo, hi = np.percentile(boot, [2.5, 97.5])
        return f"; matched pairs: swap higher in {win.mean():.3f} ({lo:.2f}–{hi:.2f}) of {len(d)}"

    for kind in a.negatives:
        for feats in a.features:
            dm = design(kind, feats)
            if dm is None:
                print(f"[{kind} / {feats}] skipped: no cached probe features")
                continue
            for head in a.head:
                if head == "gbdt" and feats != "cons":
                    continue
                xtr, ytr, xho, yho = dm
                score, what = fit_head(head, xtr, ytr, xho, yho, C.N_FEATURES if feats != "probe" else 0)
                print(f"[{kind} / {feats} / {head}] {what}; in-source synthetic SBI (held-out identities) "
                      f"{_auc(yho, score(xho))}", flush=True)
                for name, items in checks.items():
                    y, s, fy, fs, fg = [], [], [], [], []
                    missing = 0
                    for label, sha, cons, probe in items:
                        xs = item_x(cons, probe, feats)
                        if xs is None:
                            missing += 1
                            continue
                        probs = [1 / (1 + np.exp(-score(t))) for t in xs]
                        y.append(label)
                        s.append(max(aggregate_track(q) for q in probs))
                        for q in probs:
                            fy += [label] * len(q)
                            fs += list(q)
                            fg += [sha] * len(q)
                    ci = clustered_auc_ci(np.array(fy), np.array(fs), fg) or [float("nan")] * 2
                    print(f"   {name}: item {_auc(y, s)}; {len(y) - sum(y)} real / {sum(y)} fake"
                          + (f" ({missing} without probe features)" if missing else "")
                          + f"; face crops {roc_auc_score(fy, fs):.3f} ({ci[0]:.2f}–{ci[1]:.2f})"
                          + matched(name, items, y, s, feats), flush=True)
    print(f"done in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
