"""Evaluation metrics for detectors and fused verdicts (labels: 1 = manipulated).

Plain functions over NumPy arrays, checked against scikit-learn in the tests.

* :func:`roc_metrics` -- AUC, equal error rate, accuracy and confusion matrix at a threshold.
* :func:`expected_calibration_error` -- ECE over equal-width probability bins
  (Naeini et al., AAAI 2015; Guo et al., ICML 2017): ``Σ_b (n_b / n) · |mean(y_b) − mean(p_b)|``
  with ``p`` = P(manipulated), so a calibrated detector has ECE ≈ 0.

Example
-------
>>> import numpy as np
>>> m = roc_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]))
>>> m["auc"], m["confusion"]
(0.75, {'tn': 1, 'fp': 1, 'fn': 1, 'tp': 1})
"""

from __future__ import annotations

from typing import Any

import numpy as np


def confusion(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, int]:
    """Counts at ``p >= threshold`` → manipulated."""
    y = np.asarray(y).astype(int)
    pred = (np.asarray(p, dtype=float) >= threshold).astype(int)
    return {"tn": int(((pred == 0) & (y == 0)).sum()), "fp": int(((pred == 1) & (y == 0)).sum()),
            "fn": int(((pred == 0) & (y == 1)).sum()), "tp": int(((pred == 1) & (y == 1)).sum())}


def equal_error_rate(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """``(EER, threshold)``: where the false-positive and false-negative rates cross.

    The crossing is interpolated on the ROC polyline (the same curve whose area is the AUC), so the
    two figures are consistent: ``EER ≤ 0.5`` exactly when ``AUC ≥ 0.5`` for a convex-enough curve,
    and a detector that ranks backwards shows an EER above one half next to an AUC below one half.
    """
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(y, p)
    fnr = 1 - tpr
    d = fnr - fpr  # decreasing from 1 to -1 along the curve
    j = int(np.argmax(d <= 0))
    if j == 0:
        return float(fpr[0]), float(min(thr[0], 1.0))
    d0, d1 = d[j - 1], d[j]
    t = d0 / (d0 - d1) if d0 != d1 else 0.0
    eer = fpr[j - 1] + t * (fpr[j] - fpr[j - 1])
    th = thr[j - 1] + t * (thr[j] - thr[j - 1]) if np.isfinite(thr[j - 1]) else thr[j]
    return float(eer), float(min(th, 1.0))


def bootstrap_ci(y: np.ndarray, p: np.ndarray, statistic=None, n: int = 1000, seed: int = 0,
                 level: float = 0.95, groups: np.ndarray | None = None) -> list[float] | None:
    """Percentile bootstrap interval of ``statistic(y, p)`` (default: ROC AUC).

    Resamples files (or whole ``groups``, e.g. identities) with replacement, stratified by class so
    every resample holds both classes. ``None`` when ``y`` holds one class only. Deterministic for a seed.
    """
    from sklearn.metrics import roc_auc_score

    stat = statistic or roc_auc_score
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    if len(np.unique(y)) < 2:
        return None
    rng = np.random.default_rng(seed)
    if groups is None:
        pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        vals = []
        for _ in range(n):
            idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
            vals.append(stat(y[idx], p[idx]))
    else:
        g = np.asarray(groups)
        members = {k: np.flatnonzero(g == k) for k in sorted(set(g.tolist()), key=str)}
        keys = list(members)
        vals = []
        for _ in range(n):
            idx = np.concatenate([members[keys[i]] for i in rng.integers(0, len(keys), len(keys))])
            if len(np.unique(y[idx])) < 2:
                continue
            vals.append(stat(y[idx], p[idx]))
        if not vals:
            return None
    lo, hi = np.quantile(vals, [(1 - level) / 2, 1 - (1 - level) / 2])
    return [round(float(lo), 4), round(float(hi), 4)]


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE of P(manipulated) over ``bins`` equal-width bins on [0, 1] (the last bin includes 1.0)."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if len(y) == 0:
        return float("nan")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(y[m].mean() - p[m].mean())
    return float(ece)


def roc_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5, ci_resamples: int = 1000,
                seed: int = 0) -> dict[str, Any]:
    """AUC with its bootstrap 95 % interval, EER, accuracy, balanced accuracy, TPR / FPR and the confusion
    matrix at ``threshold``, ECE, from labels ``y`` and scores or probabilities ``p``.

    AUC, its interval, EER and balanced accuracy are ``None`` when ``y`` holds only one class.
    ``ci_resamples=0`` skips the bootstrap.
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    both = len(np.unique(y)) == 2
    conf = confusion(y, p, threshold)
    tpr = conf["tp"] / max(1, conf["tp"] + conf["fn"])
    fpr = conf["fp"] / max(1, conf["fp"] + conf["tn"])
    out: dict[str, Any] = {
        "auc": round(float(roc_auc_score(y, p)), 4) if both else None,
        "auc_ci95": bootstrap_ci(y, p, n=ci_resamples, seed=seed) if both and ci_resamples else None,
        "eer": round(equal_error_rate(y, p)[0], 4) if both else None,
        "accuracy": round(float(((p >= threshold).astype(int) == y).mean()), 4) if len(y) else None,
        "balanced_accuracy": round((tpr + 1 - fpr) / 2, 4) if both else None,
        "tpr": round(tpr, 4) if y.sum() else None,
        "fpr": round(fpr, 4) if (1 - y).sum() else None,
        "threshold": threshold,
        "confusion": conf,
        "ece": round(expected_calibration_error(y, p), 4) if len(y) else None,
        "n_test": int(len(y)),
        "n_test_positive": int(y.sum()),
        "n_test_negative": int((1 - y).sum()),
    }
    return out


def roc_points(y: np.ndarray, p: np.ndarray) -> dict[str, list[float]]:
    """False- and true-positive rates for plotting (empty when only one class is present)."""
    from sklearn.metrics import roc_curve

    y = np.asarray(y).astype(int)
    if len(np.unique(y)) < 2:
        return {"fpr": [], "tpr": []}
    fpr, tpr, _ = roc_curve(y, np.asarray(p, dtype=float))
    return {"fpr": [round(float(v), 5) for v in fpr], "tpr": [round(float(v), 5) for v in tpr]}
