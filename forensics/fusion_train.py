"""Fitting the fusion model (``forensics train fusion``): calibration, stacking, cross-validation.

Inference -- applying a fitted model to one item's findings -- is :mod:`forensics.fusion`; this module only
learns the model from a matrix of detector probabilities on validation data.
"""

from __future__ import annotations

import warnings
from typing import Any, Iterable

import numpy as np

from forensics.calibration import Calibrator, logit
from forensics.detector import Finding
from forensics.fusion import (
    _EPS,
    HIGH,
    LOW,
    POSITIVE_METHOD,
    STACKED_METHOD,
    FusionModel,
    _cap_probability,
    _logit,
    _sigmoid,
    _thresholds,
    calibrate,
    fuse_fallback,
    log_odds_map,
    validation_bounds,
)


def fit_calibration(p: np.ndarray, y: np.ndarray, method: str = "platt") -> dict[str, Any]:
    """Class-balanced Platt (logistic on ``logit(p)``, slope > 0 or a constant 0.5) or isotonic (increasing)
    calibration of one detector, as stored JSON."""
    # sign=1: a detector whose probability falls as manipulation becomes likelier on the validation data is not
    # turned round (a court could not follow "its 'manipulated' counts as authentic"): it becomes a constant 0.5
    cal = Calibrator.fit(np.asarray(p, dtype=float), np.asarray(y).astype(int), method=method, input="logit",
                         eps=_EPS, sign=1)
    if cal.method in ("identity", "constant"):
        return {"method": cal.method, **cal.params, "note": cal.note}
    return {"method": cal.method, **{k: v for k, v in cal.params.items() if k not in ("input", "eps")}}


def _pattern_weights(R: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sample weights giving both classes equal total weight within each missingness pattern."""
    w = np.zeros(len(y))
    keys = [tuple(r) for r in R.astype(int)]
    for k in set(keys):
        m = np.array([kk == k for kk in keys])
        n1, n0 = int(y[m].sum()), int((1 - y[m]).sum())
        if n1 == 0 or n0 == 0:
            w[m] = 0.0  # a pattern with one class only says nothing about the detectors
            continue
        w[m & (y == 1)] = 0.5 / n1
        w[m & (y == 0)] = 0.5 / n0
    return w * len(y) / max(w.sum(), 1e-12)


def fit_monotone_logistic(X: np.ndarray, y: np.ndarray, sw: np.ndarray, C: float, k: int) -> tuple[np.ndarray, float]:
    """Weighted L2 logistic regression whose first ``k`` coefficients (the detectors' calibrated log-odds) are
    held >= 0; the rest (presence indicators) and the unpenalised intercept are free. Same loss as scikit-learn's
    ``LogisticRegression(C=C)`` -- ``C·Σ wᵢ·log(1 + exp(−sᵢ·zᵢ)) + ½‖β‖²`` -- solved by L-BFGS-B with bounds
    (scikit-learn has no bounded logistic regression). Monotone fusion: a detector's stronger "manipulated"
    never lowers the fused probability. Returns ``(coef, intercept)``."""
    from scipy.optimize import minimize
    from scipy.special import expit

    X = np.asarray(X, dtype=np.float64)
    t = np.asarray(y, dtype=np.float64)
    s = 2 * t - 1
    d = X.shape[1]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        beta, b = theta[:d], theta[d]
        z = X @ beta + b
        nll = np.logaddexp(0.0, -s * z)
        r = sw * (expit(z) - t)
        return float(C * (sw @ nll) + 0.5 * beta @ beta), np.r_[C * (X.T @ r) + beta, C * r.sum()]

    bounds = [(0.0, None)] * k + [(None, None)] * (d - k) + [(None, None)]
    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 5000, "gtol": 1e-9})
    return res.x[:d], float(res.x[d])


def fit_stacker(P: np.ndarray, y: np.ndarray, names: list[str], calibration: str = "platt", folds: int = 5,
                seed: int = 0, C: float = 1.0, bootstrap: int = 0, positive: bool = False) -> dict[str, Any]:
    """Fit calibrations + the stacking model on a matrix of detector probabilities.

    Parameters
    ----------
    P : (n, k) detector probabilities, NaN where the detector did not run
    y : (n,) labels, 1 = manipulated
    names : the k detector names

    bootstrap : number of bootstrap refits of the stacker stored for likelihood-ratio intervals
    positive : stack only the positive part of each calibrated log-odds (``stacked-positive/1``: a detector
        adds the evidence it finds for manipulation and never subtracts; see :mod:`forensics.fusion`)

    Returns
    -------
    the ``fusion.json`` dict (without detector versions / model hashes).
    """
    from sklearn.model_selection import StratifiedKFold

    n, k = P.shape
    R = (~np.isnan(P)).astype(float)
    cals = []
    Zoof = np.zeros((n, k))
    for j in range(k):
        m = R[:, j] == 1
        cals.append(fit_calibration(P[m, j], y[m], calibration) if m.sum() >= 4 else
                    {"method": "identity", "note": f"ran on only {int(m.sum())} validation items"})
        # cross-fitted calibrated values for the stacker (the final calibration is fitted on all of them)
        idx = np.flatnonzero(m)
        if len(idx) >= 2 * folds and len(np.unique(y[idx])) == 2 and min(np.bincount(y[idx])) >= folds:
            skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
            for tr, te in skf.split(idx, y[idx]):
                c = fit_calibration(P[idx[tr], j], y[idx[tr]], calibration)
                Zoof[idx[te], j] = [_logit(calibrate(c, v)) for v in P[idx[te], j]]
        else:
            Zoof[idx, j] = [_logit(calibrate(cals[j], v)) for v in P[idx, j]]
    if positive:
        Zoof = np.maximum(Zoof, 0.0)
    X = np.hstack([Zoof, R])
    sw = _pattern_weights(R, y)
    coef, intercept = fit_monotone_logistic(X, y, sw, C, k)
    # bootstrap replicates of the stacker (calibrations held fixed): the spread of the fused log-odds across
    # them is the interval stated with each likelihood ratio
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(bootstrap):
        idx = rng.integers(0, n, n)
        if len(np.unique(y[idx])) < 2:
            continue
        w_b = _pattern_weights(R[idx], y[idx])
        if w_b.sum() <= 0:
            continue
        c_b, i_b = fit_monotone_logistic(X[idx], y[idx], w_b, C, k)
        boot.append({"intercept": round(i_b, 6), "weights": [round(float(v), 6) for v in c_b[:k]],
                     "presence": [round(float(v), 6) for v in c_b[k:]]})
    return {
        "method": POSITIVE_METHOD if positive else STACKED_METHOD,
        "intercept": round(intercept, 8),
        "weights_constraint": "detector weights >= 0 (monotone fusion); calibrations increasing",
        "thresholds": _thresholds(),
        "regularisation_C": C,
        "validation_counts": {"authentic": int((1 - y).sum()), "manipulated": int(y.sum())},
        "bootstrap": boot,
        "detectors": [{"name": nm, "calibration": cals[j], "weight": round(float(coef[j]), 8),
                       "presence": round(float(coef[k + j]), 8), "n_ran": int(R[:, j].sum())}
                      for j, nm in enumerate(names)],
    }


def cross_validated(P: np.ndarray, y: np.ndarray, names: list[str], calibration: str = "platt", folds: int = 5,
                    seed: int = 0, positive: bool = False) -> np.ndarray:
    """Out-of-fold fused probabilities: the whole procedure (calibration + stacking) refitted per fold."""
    from sklearn.model_selection import StratifiedKFold

    R = ~np.isnan(P)
    strata = y * (2 ** P.shape[1]) + (R * (2 ** np.arange(P.shape[1]))).sum(1)  # label × pattern
    counts = np.bincount(strata)
    strata = np.where(counts[strata] >= folds, strata, y)  # rare patterns: stratify by label only
    out = np.full(len(y), np.nan)
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # a stratum smaller than `folds` is expected with tiny video sets
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        splits = list(skf.split(P, strata))
    for tr, te in splits:
        fm = FusionModel(fit_stacker(P[tr], y[tr], names, calibration, folds, seed, positive=positive))
        for i in te:
            out[i] = fm.probability({nm: (None if np.isnan(P[i, j]) else float(P[i, j])) for j, nm in enumerate(names)})
    return out


def fit_model(P: np.ndarray, y: np.ndarray, names: list[str], kinds: np.ndarray, calibration: str = "platt",
              folds: int = 5, seed: int = 0, positive: bool = False,
              bootstrap: int = 0) -> tuple[dict[str, Any], np.ndarray]:
    """The whole fitted fusion model as installed: the stacker (:func:`fit_stacker`) plus, per media kind, a Platt
    map of its cross-validated fused log-odds (:func:`fit_kind_calibration`). Returns ``(model, oof)``, ``oof``
    the cross-validated stacker probabilities the maps were fitted on."""
    model = fit_stacker(P, y, names, calibration, folds, seed, bootstrap=bootstrap, positive=positive)
    oof = cross_validated(P, y, names, calibration, folds, seed, positive=positive)
    ok = ~np.isnan(oof)
    model["kind_calibration"] = fit_kind_calibration(logit(oof[ok]), y[ok], np.asarray(kinds)[ok])
    return model, oof


def decision_error_rates(y: np.ndarray, p: np.ndarray, low: float = LOW, high: float = HIGH) -> dict[str, Any]:
    """What the three-way labels do on labelled data: how often each label is wrong, how often undecided."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    auth, manip = p < low, p > high
    return {
        "called_authentic": int(auth.sum()), "called_authentic_wrong": int((auth & (y == 1)).sum()),
        "called_manipulated": int(manip.sum()), "called_manipulated_wrong": int((manip & (y == 0)).sum()),
        "inconclusive": int((~auth & ~manip).sum()),
        "decided_error_rate": (round(float(((auth & (y == 1)) | (manip & (y == 0))).sum() / max((auth | manip).sum(), 1)), 4)
                               if (auth | manip).any() else None),
    }


def fallback_probabilities(rows: Iterable[dict[str, Any]], uncapped: bool = False) -> np.ndarray:
    """The fallback rule's fused probability per result row (NaN for 'no decision'); ``uncapped``: before the
    validation-size cap (what the recalibrated rule maps)."""
    key = "probability_uncapped" if uncapped else "probability"
    out = []
    for r in rows:
        findings = [Finding(detector=f["detector"], version=f.get("version", ""), status=f["status"],
                            probability=f.get("probability") if f["status"] == "ran" else None,
                            error_rate=f.get("error_rate")) for f in r["findings"]]
        v = fuse_fallback(findings)
        out.append(np.nan if v[key] is None else v[key])
    return np.array(out, dtype=float)


def recalibrated_out_of_source(logodds: np.ndarray, y: np.ndarray, kinds: np.ndarray,
                               sources: np.ndarray) -> np.ndarray:
    """The recalibrated fallback rule measured cross-source: each validation source's items mapped by per-kind
    Platt maps fitted on the other sources only (a kind without a map there keeps the plain fallback value)."""
    out = np.full(len(y), np.nan)
    for src in sorted(set(sources.tolist())):
        test = sources == src
        maps = fit_kind_calibration(logodds[~test], y[~test], kinds[~test])
        bounds = validation_bounds(int((1 - y[~test]).sum()), int(y[~test].sum()))
        for i in np.flatnonzero(test):
            cal = maps.get(kinds[i])
            z = float(logodds[i])
            # capped by the validation size as fuse_recalibrated caps the stated probability
            out[i] = _cap_probability(float(log_odds_map(cal)(z)) if cal else _sigmoid(z), bounds)
    return out


def select_rule(candidates: dict[str, dict[str, Any] | None], auc_margin: float = 0.02) -> tuple[str, str]:
    """``(rule, reason)``: among the rules with a cross-source AUC, the lowest expected calibration error among
    those within ``auc_margin`` of the best AUC; ties go to the simpler rule (order of ``fusion.RULES``)."""
    from forensics.fusion import RULES

    ok = {k: v for k, v in candidates.items() if v and v.get("auc") is not None}
    if not ok:
        return RULES[0], "no rule could be measured: the fallback rule"
    best = max(v["auc"] for v in ok.values())
    near = [k for k in RULES if k in ok and ok[k]["auc"] >= best - auc_margin]
    pick = min(near, key=lambda k: (ok[k].get("ece") if ok[k].get("ece") is not None else 1.0, RULES.index(k)))
    desc = "; ".join(f"{k}: AUC {ok[k]['auc']}, ECE {ok[k].get('ece')}" for k in RULES if k in ok)
    return pick, (f"lowest calibration error among the rules within {auc_margin} of the best cross-source AUC "
                  f"({desc})")


def fit_kind_calibration(logodds: np.ndarray, y: np.ndarray, kinds: np.ndarray, min_per_class: int = 15) -> dict:
    """Per media kind, a Platt map of the out-of-fold fused log-odds (only where a kind has enough of both classes).

    Images and videos reach the stacker through different detectors and different error rates; one logistic
    map per kind, fitted on out-of-fold fused log-odds, corrects the fused probability's calibration for
    each. Kinds with fewer than ``min_per_class`` files of either class keep the stacker's own output.
    """
    out = {}
    for kind in sorted(set(kinds.tolist())):
        m = kinds == kind
        if min(int(y[m].sum()), int((1 - y[m]).sum())) < min_per_class:
            continue
        cal = Calibrator.fit(logodds[m], y[m], method="platt", input="raw", sign=1)
        if cal.method == "platt":
            out[kind] = {"method": "platt", "a": cal.params["a"], "b": cal.params["b"], "n": int(m.sum())}
    return out
