"""Score calibration: one Platt / isotonic implementation for every detector and for fusion.

A detector's raw output (a network's softmax, an SVM decision value, a blink-rate surprise) is not a
probability a court can weigh. :class:`Calibrator` maps it to ``P(manipulated)`` with

* **Platt scaling** (Platt 1999): ``p = σ(a·x + b)`` with ``x = logit(s)`` for scores in (0, 1)
  (``input="logit"``) or ``x = s`` for unbounded scores (``input="raw"``); fitted by class-balanced
  logistic regression (scikit-learn), optionally with the slope constrained to the method's stated
  hypothesis (``sign=+1``: a larger score means more likely manipulated; a fit pointing the other way
  becomes the uninformative constant 0.5, never a hand-flipped sign);
* **isotonic regression** (Zadrozny & Elkan 2002), class-balanced, clipped to ``[ε, 1 − ε]``;
* ``identity`` when only one class was seen.

Calibrators are stored as plain JSON (``to_json`` / ``from_json``); nothing is pickled.

Example
-------
>>> import numpy as np
>>> cal = Calibrator.fit(np.array([0.2, 0.3, 0.7, 0.8]), np.array([0, 0, 1, 1]))
>>> 0.5 < cal(0.9) <= 1.0
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

EPS = 1e-4


def logit(p: Any, eps: float = 1e-6) -> np.ndarray:
    """``log(p / (1 − p))`` with ``p`` clipped to ``[eps, 1 − eps]`` (works on scalars and arrays)."""
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return np.log(p / (1 - p))


def sigmoid(z: Any) -> np.ndarray:
    """The logistic function, overflow-safe."""
    z = np.clip(np.asarray(z, dtype=np.float64), -50.0, 50.0)
    return 1.0 / (1.0 + np.exp(-z))


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Sample weights giving both classes equal total weight (each class sums to 0.5)."""
    y = np.asarray(y).astype(int)
    pos = max(float(y.mean()), 1e-12)
    return np.where(y == 1, 0.5 / pos, 0.5 / max(1 - pos, 1e-12))


@dataclass
class Calibrator:
    """A fitted map from a detector's raw score to a calibrated ``P(manipulated)``.

    Attributes
    ----------
    method : str
        ``"platt"``, ``"isotonic"`` or ``"identity"``.
    params : dict
        ``{"a", "b", "input"}`` for Platt, ``{"x", "y"}`` for isotonic.
    note : str
        Why the calibrator is what it is (e.g. "only one class in the validation data").
    """

    method: str = "identity"
    params: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    # ------------------------------------------------------------------------------ apply
    def __call__(self, score: float) -> float:
        return float(self.apply(np.asarray([score], dtype=np.float64))[0])

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for an array of raw scores."""
        s = np.asarray(scores, dtype=np.float64)
        if self.method == "identity":
            return np.clip(s, 0.0, 1.0)
        if self.method == "platt":
            x = logit(s, self.params.get("eps", 1e-6)) if self.params.get("input", "logit") == "logit" else s
            return sigmoid(self.params["a"] * x + self.params["b"])
        if self.method == "isotonic":
            return np.interp(s, self.params["x"], self.params["y"])
        if self.method == "constant":
            return np.full(s.shape, float(self.params["p"]))
        raise ValueError(f"unknown calibration method {self.method!r}")

    @property
    def informative(self) -> bool:
        """False when the map ignores the score (constant output)."""
        if self.method == "constant":
            return False
        return not (self.method == "platt" and self.params.get("a", 0.0) == 0.0)

    # ------------------------------------------------------------------------------ fit
    @classmethod
    def fit(cls, scores: np.ndarray, y: np.ndarray, method: str = "platt", input: str = "logit",
            balanced: bool = True, sign: int = 0, C: float = 1.0, eps: float = 1e-6) -> "Calibrator":
        """Fit on raw scores ``scores`` and labels ``y`` (1 = manipulated).

        Parameters
        ----------
        method : {"platt", "isotonic"}
        input : {"logit", "raw"}
            Platt only: fit on ``logit(score)`` (scores in (0, 1)) or on the score itself.
        balanced : bool
            Give both classes equal weight (the validation sets are rarely balanced).
        sign : {0, 1, -1}
            Platt only: the slope's required sign. When the fit points the other way the result is
            the constant 0.5 (the score carries no usable information on this data).
        C : float
            Inverse L2 regularisation strength of the logistic fit.
        eps : float
            Platt on logits: scores are clipped to ``[eps, 1 − eps]`` first (stored with the map when not 1e-6).
        """
        s = np.asarray(scores, dtype=np.float64).ravel()
        y = np.asarray(y).astype(int).ravel()
        if len(np.unique(y)) < 2:
            return cls("identity", {}, "only one class in the calibration data")
        w = balanced_weights(y) if balanced else np.ones(len(y))
        if method == "platt":
            from sklearn.linear_model import LogisticRegression

            x = logit(s, eps) if input == "logit" else s
            if np.ptp(x) == 0:
                return cls("constant", {"p": 0.5}, "the score is constant on the calibration data")
            lr = LogisticRegression(C=C, max_iter=1000).fit(x[:, None], y, sample_weight=w)
            a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
            if sign and a * sign <= 0:
                return cls("constant", {"p": 0.5},
                           "the fitted slope points against the method's hypothesis: the score carries no information")
            params = {"a": round(a, 8), "b": round(b, 8), "input": input}
            if input == "logit" and eps != 1e-6:
                params["eps"] = eps
            return cls("platt", params)
        if method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(y_min=EPS, y_max=1 - EPS, out_of_bounds="clip").fit(s, y, sample_weight=w)
            return cls("isotonic", {"x": [round(float(v), 8) for v in iso.X_thresholds_],
                                    "y": [round(float(v), 8) for v in iso.y_thresholds_]})
        raise ValueError(f"calibration must be 'platt' or 'isotonic', not {method!r}")

    # ------------------------------------------------------------------------------ storage
    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, **self.params}
        if self.note:
            out["note"] = self.note
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Calibrator":
        d = dict(data)
        method = d.pop("method")
        note = d.pop("note", "")
        if method.startswith("platt"):  # older cards wrote "platt (class-balanced)"
            method = "platt"
            d.setdefault("input", "logit")
        return cls(method, d, note)


def cross_fitted(scores: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None, folds: int = 5,
                 seed: int = 0, **fit_kw: Any) -> np.ndarray:
    """Out-of-fold calibrated probabilities: each score calibrated by a map fitted without its fold.

    ``groups`` keeps all scores of one group (identity, source video) in the same fold.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y).astype(int)
    g = np.arange(len(y)) if groups is None else np.asarray(groups)
    uniq = sorted(set(g.tolist()), key=str)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    fold_of = {uniq[i]: k % max(1, min(folds, len(uniq))) for k, i in enumerate(order)}
    f = np.array([fold_of[v] for v in g.tolist()])
    out = np.empty(len(y))
    for k in sorted(set(f.tolist())):
        test = f == k
        out[test] = Calibrator.fit(s[~test], y[~test], **fit_kw).apply(s[test])
    return out


__all__ = ["Calibrator", "cross_fitted", "logit", "sigmoid", "balanced_weights", "EPS"]
