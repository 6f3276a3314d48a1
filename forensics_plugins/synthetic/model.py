"""Linear models of the synthetic-image detector, stored as plain JSON (nothing pickled).

* one standardised logistic regression per cue (spectral, residual, probe) -- the probe is the linear
  probe of Ojha et al. (CVPR 2023) on frozen ImageNet features;
* a stacker: logistic regression over the three cue logits, fitted on *cross-fitted* cue logits (each
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

DEFAULT_C = {"spectral": 0.1, "residual": 0.05, "probe": 0.02, "format": 1.0, "stack": 1.0}


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
        from sklearn.linear_model import LogisticRegression

        X = np.asarray(X, dtype=np.float64)
        mean = X.mean(0)
        scale = X.std(0)
        scale = np.where(scale > 1e-9, scale, 1.0)
        Z = np.clip((X - mean) / scale, -cls.CLIP, cls.CLIP)
        lr = LogisticRegression(C=C, max_iter=2000).fit(Z, y, sample_weight=_balanced(y) if weights is None else weights)
        return cls(mean, scale, lr.coef_[0].astype(np.float64), float(lr.intercept_[0]))

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

    def cue_logits(self, feats: dict[str, np.ndarray]) -> dict[str, float]:
        return {c: float(self.cues[c].decision(feats[c])[0]) for c in CUES}

    def stacked(self, logits: dict[str, float]) -> float:
        return float(self.stack.decision(np.array([[logits[c] for c in CUES]]))[0])

    def probability(self, stacked_logit: float) -> float | None:
        return None if self.calibrator is None else float(self.calibrator(stacked_logit))

    def to_json(self) -> dict[str, Any]:
        return {"format": "forensics.synthetic/1", "cues": {c: self.cues[c].to_json() for c in CUES},
                "stack": self.stack.to_json(), "stack_inputs": list(CUES),
                "calibrator": self.calibrator.to_json() if self.calibrator else None,
                "reference": self.reference, "meta": self.meta}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "SyntheticModel":
        if d.get("format") != "forensics.synthetic/1":
            raise ValueError(f"not a synthetic-detector model (format {d.get('format')!r})")
        cal = Calibrator.from_json(d["calibrator"]) if d.get("calibrator") else None
        return cls({c: Linear.from_json(d["cues"][c]) for c in CUES}, Linear.from_json(d["stack"]), cal,
                   d.get("reference") or {}, d.get("meta") or {})


def _folds(groups: np.ndarray, k: int) -> np.ndarray:
    uniq = sorted(set(groups.tolist()), key=str)
    if len(uniq) >= 2:
        return np.array([uniq.index(g) for g in groups.tolist()])
    return np.arange(len(groups)) % k  # one source: plain k-fold


def fit_model(X: dict[str, np.ndarray], y: np.ndarray, groups: np.ndarray, C: dict[str, float] | None = None
              ) -> SyntheticModel:
    """Fit the cue models on everything and the stacker on cross-fitted (leave-one-source-out) cue logits,
    all with :func:`source_balanced` weights."""
    C = {**DEFAULT_C, **(C or {})}
    y = np.asarray(y).astype(int)
    groups = np.asarray(groups)
    fold = _folds(groups, 5)
    oof = np.zeros((len(y), len(CUES)))
    for k in sorted(set(fold.tolist())):
        te = fold == k
        tr = ~te
        if len(np.unique(y[tr])) < 2:  # a source of one class only cannot be held out usefully
            for j, c in enumerate(CUES):
                oof[te, j] = 0.0
            continue
        wtr = source_balanced(y[tr], groups[tr])
        for j, c in enumerate(CUES):
            oof[te, j] = Linear.fit(X[c][tr], y[tr], C[c], wtr).decision(X[c][te])
    w = source_balanced(y, groups)
    cues = {c: Linear.fit(X[c], y, C[c], w) for c in CUES}
    stack = Linear.fit(oof, y, C["stack"], w)
    # the stacker's inputs are logits on a common scale: keep it unstandardised for readability
    return SyntheticModel(cues, stack, meta={"C": C})


def reference_spectra(spectral: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    from .features import RADIAL_BINS

    prof = spectral[:, :RADIAL_BINS]
    r = lambda a: [round(float(v), 5) for v in a]  # noqa: E731
    return {"real_mean": r(prof[y == 0].mean(0)), "real_sd": r(prof[y == 0].std(0)),
            "fake_mean": r(prof[y == 1].mean(0)), "fake_sd": r(prof[y == 1].std(0)),
            "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum())}
