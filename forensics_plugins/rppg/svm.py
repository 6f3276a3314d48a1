"""A probabilistic RBF support-vector machine stored as plain JSON (no pickle, no joblib).

Training uses scikit-learn's :class:`sklearn.svm.SVC`; what is stored is only what
inference needs, so loading a model can never execute code:

* the feature names, the per-feature clipping range and standardisation (mean, scale);
* the support vectors, their dual coefficients, the intercept and ``gamma``;
* Platt's sigmoid ``P(fake) = 1 / (1 + exp(A·d + B))`` over the **video-level** score
  ``d`` (the mean of the window decision values), fitted on out-of-fold scores
  (J. Platt, "Probabilistic outputs for support vector machines", 1999).

Inference is a few lines of NumPy (:meth:`RbfSvm.decision`), checked against
scikit-learn's ``decision_function`` in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FORMAT = "forensics-rbf-svm/1"


@dataclass
class RbfSvm:
    features: tuple[str, ...]
    lo: np.ndarray  # clip range, from the training data (0.5 / 99.5 percentiles)
    hi: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    support_vectors: np.ndarray  # (S, F), standardised space
    dual_coef: np.ndarray  # (S,)  y_i·alpha_i, positive side = fake
    intercept: float
    gamma: float
    platt_a: float = -1.0
    platt_b: float = 0.0

    # ------------------------------------------------------------------ inference
    def standardise(self, X: np.ndarray) -> np.ndarray:
        X = np.clip(np.atleast_2d(np.asarray(X, dtype=np.float64)), self.lo, self.hi)
        return (X - self.mean) / self.scale

    def decision(self, X: np.ndarray) -> np.ndarray:
        """SVM decision value per row of ``X`` (raw features); > 0 leans "fake"."""
        Z = self.standardise(X)
        d2 = ((Z[:, None, :] - self.support_vectors[None, :, :]) ** 2).sum(axis=2)
        return np.exp(-self.gamma * d2) @ self.dual_coef + self.intercept

    def probability_from_score(self, score: float) -> float:
        """Platt sigmoid of a video-level score (mean window decision)."""
        z = self.platt_a * float(score) + self.platt_b
        return 1.0 / (1.0 + math.exp(z)) if z > -700 else 1.0

    def video_score(self, X: np.ndarray) -> tuple[float, np.ndarray]:
        """(mean window decision, per-window decisions) for the windows ``X`` of one video."""
        d = self.decision(X)
        return float(np.mean(d)), d

    # ------------------------------------------------------------------ (de)serialisation
    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "features": list(self.features),
            "clip_lo": self.lo.tolist(),
            "clip_hi": self.hi.tolist(),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "support_vectors": self.support_vectors.tolist(),
            "dual_coef": self.dual_coef.tolist(),
            "intercept": float(self.intercept),
            "gamma": float(self.gamma),
            "platt": {"a": float(self.platt_a), "b": float(self.platt_b)},
            "positive_class": "fake",
        }

    @classmethod
    def from_json(cls, d: dict) -> "RbfSvm":
        if d.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} model (format {d.get('format')!r})")
        arr = lambda k: np.asarray(d[k], dtype=np.float64)  # noqa: E731
        m = cls(features=tuple(d["features"]), lo=arr("clip_lo"), hi=arr("clip_hi"), mean=arr("mean"),
                scale=arr("scale"), support_vectors=arr("support_vectors").reshape(-1, len(d["features"])),
                dual_coef=arr("dual_coef").ravel(), intercept=float(d["intercept"]), gamma=float(d["gamma"]),
                platt_a=float(d["platt"]["a"]), platt_b=float(d["platt"]["b"]))
        n = len(m.features)
        if not (m.lo.shape == m.hi.shape == m.mean.shape == m.scale.shape == (n,)) \
                or len(m.dual_coef) != len(m.support_vectors) or not np.all(m.scale > 0):
            raise ValueError("inconsistent SVM model: array shapes do not match the feature list")
        return m


def fit_svm(X: np.ndarray, y: np.ndarray, features: tuple[str, ...], sample_weight: np.ndarray | None = None,
            C: float = 1.0) -> RbfSvm:
    """Fit an RBF SVC (``gamma="scale"``) on clipped, standardised features; Platt left at identity-ish.

    ``y``: 1 = fake. Deterministic (libsvm without probability estimates uses no randomness).
    """
    from sklearn.svm import SVC

    X = np.asarray(X, dtype=np.float64)
    lo, hi = np.percentile(X, 0.5, axis=0), np.percentile(X, 99.5, axis=0)
    Xc = np.clip(X, lo, hi)
    mean, scale = Xc.mean(axis=0), Xc.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    Z = (Xc - mean) / scale
    clf = SVC(C=C, kernel="rbf", gamma="scale", class_weight=None)
    clf.fit(Z, y, sample_weight=sample_weight)
    # scikit-learn's binary decision_function is dual_coef_ @ K + intercept_, positive = classes_[1]
    sign = 1.0 if clf.classes_[1] == 1 else -1.0
    return RbfSvm(features=tuple(features), lo=lo, hi=hi, mean=mean, scale=scale,
                  support_vectors=clf.support_vectors_.copy(), dual_coef=sign * clf.dual_coef_[0].copy(),
                  intercept=sign * float(clf.intercept_[0]), gamma=float(clf._gamma))


def platt_from_calibrator(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(A, B)`` of ``P(fake) = 1/(1+exp(A·s+B))`` from the shared :class:`forensics.api.Calibrator`
    (class-balanced Platt on the raw video score, slope constrained to "higher = more fake": a fit pointing
    the other way gives ``A = B = 0``, i.e. P = 0.5, never a flipped sign)."""
    from forensics.api import Calibrator

    cal = Calibrator.fit(np.asarray(scores, dtype=np.float64), np.asarray(y).astype(int), method="platt",
                         input="raw", sign=+1)
    if cal.method != "platt":
        return 0.0, 0.0
    return -float(cal.params["a"]), -float(cal.params["b"])
