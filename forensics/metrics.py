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
    """``(EER, threshold)``: where the false-positive and false-negative rates cross (ROC points)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(y, p)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2), float(min(thr[i], 1.0))


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


def roc_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """AUC, EER, accuracy / confusion at ``threshold``, ECE, from labels ``y`` and probabilities ``p``.

    AUC and EER are ``None`` when ``y`` holds only one class.
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    both = len(np.unique(y)) == 2
    conf = confusion(y, p, threshold)
    out: dict[str, Any] = {
        "auc": round(float(roc_auc_score(y, p)), 4) if both else None,
        "eer": round(equal_error_rate(y, p)[0], 4) if both else None,
        "accuracy": round(float(((p >= threshold).astype(int) == y).mean()), 4) if len(y) else None,
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
