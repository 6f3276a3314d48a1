"""Linear models of the synthetic-image detector, stored as plain JSON (nothing pickled).

* one standardised logistic regression per cue (a subset of :data:`.features.ALL_CUES`, named in the JSON) --
  the probe is the linear probe of Ojha et al. (CVPR 2023) on frozen ImageNet features;
* a stacker: logistic regression over the cue logits, fitted on *cross-fitted* cue logits (each
  training file scored by cue models fitted without its source), so it weighs the cues by how well they
  carry to a source they did not see;
* a Platt calibrator fitted on the leave-one-generator-out scores (see :mod:`.train`);
* reference spectra (mean and spread of the azimuthal profile of real and generated training images) for
  the report's plot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forensics.api import Calibrator

from .features import CUES

DEFAULT_C = {"spectral": 0.1, "residual": 0.05, "probe": 0.02, "blocks": 0.02, "npr": 0.1, "format": 1.0,
             "stack": 1.0}  # logistic regression: inverse penalty
DEFAULT_LAMBDA = {"spectral": 1.0, "residual": 1.0, "probe": 10.0, "blocks": 1.0, "npr": 10.0}  # ridge penalty
# Nuisance directions projected out of each cue before its ridge fit (:func:`nuisance_directions`); 0 = none.
# Chosen by the leave-one-generator-out measurement among k in {0, 2, 4, 7} (npr got worse with any k).
DEFAULT_NUISANCE = {"spectral": 0, "residual": 4, "blocks": 4, "probe": 0, "npr": 0}


def _balanced(y: np.ndarray) -> np.ndarray:
    """Sample weights giving both classes the same total weight."""
    y = np.asarray(y).astype(int)
    pos = max(float(y.mean()), 1e-12)
    return np.where(y == 1, 0.5 / pos, 0.5 / max(1 - pos, 1e-12))


def source_balanced(y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Sample weights: each class has total weight 1/2, shared equally by the sources that hold it, so the
    largest data set does not decide what 'generated' looks like."""
    y = np.asarray(y).astype(int)
    g = np.asarray(groups)
    w = np.zeros(len(y))
    for lab in (0, 1):
        srcs = sorted(set(g[y == lab].tolist()), key=str)
        for s in srcs:
            m = (y == lab) & (g == s)
            w[m] = 0.5 / (len(srcs) * m.sum())
    return w * len(y)


def nuisance_directions(Z: np.ndarray, y: np.ndarray, groups: np.ndarray, k: int, min_files: int = 10) -> np.ndarray:
    """The ``k`` leading directions (unit rows, standardised feature space) along which the *real* sources'
    mean feature vectors differ from each other (SVD of the centred per-source means of the real images of
    each source with at least ``min_files`` files; at most one fewer than the number of such sources).

    Real photos from different data sets differ in content, camera and processing, none of which says
    'generated'; a cue that leans on those directions learns the training sets' confounds, which then fail on a
    new generator with new real partners. Projecting them out (nuisance-attribute projection) keeps the rest of
    the feature space. Empty ``(0, d)`` when fewer than two real sources qualify or ``k`` is 0."""
    Z = np.asarray(Z, dtype=np.float64)
    y = np.asarray(y).astype(int)
    g = np.asarray(groups)
    mus = [Z[(y == 0) & (g == s)].mean(0) for s in sorted(set(g[y == 0].tolist()), key=str)
           if ((y == 0) & (g == s)).sum() >= min_files]
    if k <= 0 or len(mus) < 2:
        return np.zeros((0, Z.shape[1]))
    M = np.array(mus)
    M -= M.mean(0)
    _, sv, vt = np.linalg.svd(M, full_matrices=False)
    keep = min(k, int((sv > 1e-9 * max(sv[0], 1e-12)).sum()))
    return vt[:keep]


@dataclass
class Linear:
    """``logit = coef · clip((x − mean) / scale, ±CLIP) + intercept``."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    CLIP = 8.0

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, C: float, weights: np.ndarray | None = None) -> "Linear":
        """Standardised L2 logistic regression (inverse regularisation strength ``C``)."""
        from sklearn.linear_model import LogisticRegression

        mean, scale, Z = cls._standardise(X)
        lr = LogisticRegression(C=C, max_iter=2000).fit(Z, y, sample_weight=_balanced(y) if weights is None else weights)
        return cls(mean, scale, lr.coef_[0].astype(np.float64), float(lr.intercept_[0]))

    @classmethod
    def fit_ridge(cls, X: np.ndarray, y: np.ndarray, lam: float, weights: np.ndarray | None = None,
                  nuisance: int = 0, groups: np.ndarray | None = None) -> "Linear":
        """Standardised ridge (weighted least squares onto targets ±1; penalty ``lam`` × total weight), in closed
        form: deterministic and fast enough for the nested leave-one-source-out fits. Its output is a score on
        roughly the ±1 scale, not a calibrated logit. ``nuisance``: the number of directions between the real
        sources (``groups``; :func:`nuisance_directions`, in the standardised space) projected out of the data
        before the fit and out of the coefficients after it, so the score does not move along them."""
        mean, scale, Z = cls._standardise(X)
        V = None
        if nuisance and groups is not None:
            V = nuisance_directions(Z, y, groups, nuisance)
            V = V if len(V) else None
        if V is not None:
            Z = Z - (Z @ V.T) @ V
        w = _balanced(y) if weights is None else np.asarray(weights, dtype=np.float64)
        t = 2.0 * np.asarray(y, dtype=np.float64) - 1.0
        zm = (w @ Z) / w.sum()
        tm = float(w @ t) / w.sum()
        Zc = Z - zm
        A = (Zc * w[:, None]).T @ Zc + lam * w.sum() * np.eye(Z.shape[1])
        coef = np.linalg.solve(A, (Zc * w[:, None]).T @ (t - tm))
        if V is not None:
            coef = coef - V.T @ (V @ coef)
        return cls(mean, scale, coef, float(tm - zm @ coef))

    @classmethod
    def _standardise(cls, X: np.ndarray):
        X = np.asarray(X, dtype=np.float64)
        mean = X.mean(0)
        scale = X.std(0)
        scale = np.where(scale > 1e-9, scale, 1.0)
        return mean, scale, np.clip((X - mean) / scale, -cls.CLIP, cls.CLIP)

    def decision(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        return np.clip((X - self.mean) / self.scale, -self.CLIP, self.CLIP) @ self.coef + self.intercept

    def local(self, fmap: np.ndarray) -> np.ndarray:
        """Per-location logit of a (C, h, w) feature map (no clipping: linear, so its mean is the pooled logit
        whenever the pooled features are inside the clip range)."""
        w = self.coef / self.scale
        return np.einsum("chw,c->hw", fmap, w) + (self.intercept - float(w @ self.mean))

    def to_json(self) -> dict[str, Any]:
        r = lambda a: [round(float(v), 8) for v in np.ravel(a)]  # noqa: E731
        return {"mean": r(self.mean), "scale": r(self.scale), "coef": r(self.coef),
                "intercept": round(self.intercept, 8)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Linear":
        a = lambda k: np.asarray(d[k], dtype=np.float64)  # noqa: E731
        return cls(a("mean"), a("scale"), a("coef"), float(d["intercept"]))


@dataclass
class SyntheticModel:
    cues: dict[str, Linear]
    stack: Linear
    calibrator: Calibrator | None = None
    reference: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def cue_names(self) -> tuple[str, ...]:
        """The cues this model uses, in the stacker's input order."""
        return tuple(self.cues)

    def cue_logits(self, feats: dict[str, np.ndarray]) -> dict[str, float]:
        return {c: float(self.cues[c].decision(feats[c])[0]) for c in self.cue_names}

    def stacked(self, logits: dict[str, float]) -> float:
        return float(self.stack.decision(np.array([[logits[c] for c in self.cue_names]]))[0])

    def probability(self, stacked_logit: float) -> float | None:
        return None if self.calibrator is None else float(self.calibrator(stacked_logit))

    def to_json(self) -> dict[str, Any]:
        return {"format": "forensics.synthetic/1", "cues": {c: self.cues[c].to_json() for c in self.cue_names},
                "stack": self.stack.to_json(), "stack_inputs": list(self.cue_names),
                "calibrator": self.calibrator.to_json() if self.calibrator else None,
                "reference": self.reference, "meta": self.meta}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "SyntheticModel":
        if d.get("format") != "forensics.synthetic/1":
            raise ValueError(f"not a synthetic-detector model (format {d.get('format')!r})")
        cal = Calibrator.from_json(d["calibrator"]) if d.get("calibrator") else None
        names = d.get("stack_inputs") or list(CUES)
        return cls({c: Linear.from_json(d["cues"][c]) for c in names}, Linear.from_json(d["stack"]), cal,
                   d.get("reference") or {}, d.get("meta") or {})


FORMAT_MARGIN = 0.05


def voting_gate(metrics: dict[str, Any] | None, format_auc: float | None) -> tuple[bool, str]:
    """Whether the detector may vote: its leave-one-generator-out AUC interval (``auc_ci95``; the trainer stores
    the generator-level interval there) lies above 0.5 **and** the AUC beats the format-only baseline's, measured
    the same way, by at least :data:`FORMAT_MARGIN`. ``(ok, sentence)``."""
    from forensics.api import useful_level

    ok, fig = useful_level(metrics, "images")
    if not ok:
        return False, fig
    auc = float((metrics or {})["auc"])
    if format_auc is None:
        return False, fig + "; no format-only baseline measured beside it"
    if auc - float(format_auc) < FORMAT_MARGIN:
        return False, (fig + f"; does not beat the format-only baseline (AUC {float(format_auc):.3f}) by "
                       f"{FORMAT_MARGIN:.2f}")
    return True, fig + f"; format-only baseline {float(format_auc):.3f}"


def _folds(groups: np.ndarray, k: int) -> np.ndarray:
    uniq = sorted(set(groups.tolist()), key=str)
    if len(uniq) >= 2:
        return np.array([uniq.index(g) for g in groups.tolist()])
    return np.arange(len(groups)) % k  # one source: plain k-fold


def fit_model(X: dict[str, np.ndarray], y: np.ndarray, groups: np.ndarray, C: dict[str, float] | None = None,
              cues: tuple[str, ...] = CUES, extra: dict[str, np.ndarray] | None = None, cue_model: str = "ridge",
              stack: str = "mean", nuisance: dict[str, int] | None = None) -> SyntheticModel:
    """Fit the cue models on everything, with :func:`source_balanced` weights, and combine them.

    ``cue_model``: ``"ridge"`` (:meth:`Linear.fit_ridge`, penalty :data:`DEFAULT_LAMBDA`) or ``"logistic"``
    (:meth:`Linear.fit`, :data:`DEFAULT_C`). ``extra``: a second view of the same files (same rows, e.g. the
    test-view re-encoding of the training images) added to the cue models' training rows as augmentation.
    ``stack``: ``"mean"`` -- the unweighted mean of the cue scores (nothing fitted, so nothing to over-fit to
    the training generators); ``"logistic"`` -- a logistic regression over the cue scores fitted on
    *cross-fitted* scores (each training file scored by cue models fitted without its source). ``nuisance``:
    per cue, the number of between-real-source directions projected out before its ridge fit
    (:func:`nuisance_directions`; default :data:`DEFAULT_NUISANCE`, ``{}`` for none)."""
    pen = {**(DEFAULT_LAMBDA if cue_model == "ridge" else DEFAULT_C), **(C or {})}
    nk = {c: int((DEFAULT_NUISANCE if nuisance is None else nuisance).get(c, 0)) for c in cues}
    y = np.asarray(y).astype(int)
    groups = np.asarray(groups)

    def fit_cue(c: str, rows: np.ndarray) -> Linear:
        Xc, yc, gc = X[c][rows], y[rows], groups[rows]
        if extra is not None:
            Xc = np.concatenate([Xc, extra[c][rows]])
            yc, gc = np.concatenate([yc, yc]), np.concatenate([gc, gc])
        w = source_balanced(yc, gc)
        if cue_model == "ridge":
            return Linear.fit_ridge(Xc, yc, pen[c], w, nuisance=nk[c], groups=gc)
        return Linear.fit(Xc, yc, pen[c], w)

    allrows = np.arange(len(y))
    models = {c: fit_cue(c, allrows) for c in cues}
    k = len(cues)
    meta = {"penalty": {c: pen[c] for c in cues}, "cue_model": cue_model, "stack": stack,
            "nuisance_directions": nk if cue_model == "ridge" else {c: 0 for c in cues}}
    if stack == "mean":
        comb = Linear(np.zeros(k), np.ones(k), np.full(k, 1.0 / k), 0.0)
        return SyntheticModel(models, comb, meta=meta)
    fold = _folds(groups, 5)
    oof = np.zeros((len(y), k))
    for f in sorted(set(fold.tolist())):
        te = fold == f
        if len(np.unique(y[~te])) < 2:  # a source of one class only cannot be held out usefully
            continue
        for j, c in enumerate(cues):
            oof[te, j] = fit_cue(c, np.flatnonzero(~te)).decision(X[c][te])
    comb = Linear.fit(oof, y, DEFAULT_C["stack"], source_balanced(y, groups))
    return SyntheticModel(models, comb, meta=meta)


def reference_spectra(spectral: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    from .features import RADIAL_BINS

    prof = spectral[:, :RADIAL_BINS]
    r = lambda a: [round(float(v), 5) for v in a]  # noqa: E731
    return {"real_mean": r(prof[y == 0].mean(0)), "real_sd": r(prof[y == 0].std(0)),
            "fake_mean": r(prof[y == 1].mean(0)), "fake_sd": r(prof[y == 1].std(0)),
            "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum())}
