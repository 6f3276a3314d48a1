"""Fusion: one verdict per evidence item from the detectors' findings.

Two rules; every verdict says which one it used and why (``verdict["rule"]``).

Trained rule (``stacked-logistic/1``) -- used when a fusion model is installed
-------------------------------------------------------------------------------
Learned on validation data with ``forensics train fusion`` and stored as JSON in
``models/fusion/`` (hash-checked like every model):

1. **Per-detector calibration.** Each detector's probability ``p_d`` is recalibrated on
   the validation data -- Platt scaling ``q_d = σ(a_d·logit(p_d) + b_d)`` (Platt 1999)
   or isotonic regression (Zadrozny & Elkan 2002) -- class-balanced, so the calibrated
   value does not carry the validation set's share of fakes.
2. **Stacking with explicit missingness.** A logistic regression over, per detector,
   ``z_d = logit(q_d)`` and a presence indicator ``r_d`` (1 if the detector ran, else 0;
   ``z_d = 0`` when it did not). The fused log-odds is
   ``L = c + Σ_d (w_d·z_d + u_d·r_d)``; a detector that did not apply (an image for a video
   detector, no face, no model) contributes exactly nothing -- it is *not* imputed as 0.5.
   The stacker is fitted on cross-fitted calibrated values, with samples weighted so
   that authentic and manipulated items weigh the same within every missingness pattern:
   the fused probability assumes even prior odds, whatever mix the validation set had.
3. The measured error rate of this rule (cross-validated on the validation data) is in
   the fusion model card and is printed with every verdict.

The trained rule is only valid for the detectors it was trained on: if the findings
come from a different set of detectors, or a detector's version or model weights
differ from those recorded in the fusion model, the fallback rule is used instead.

Fallback rule (``logodds-auc/1``)
---------------------------------
Each detector that *ran* contributes its own calibrated probability ``p_i`` in
log-odds, weighted by its held-out separation ``w_i = max(0, 2·AUC_i − 1)`` (from its
model card; a detector at chance level gets no say): ``L = Σ w_i·logit(p_i) / Σ w_i``.
Detectors that did not run are listed as missing and contribute nothing. A detector
without a measured AUC gets no weight. With no weighted detector: "no decision".

Training (``forensics train fusion``) lives in :mod:`forensics.fusion_train`; this module only applies a model.

Labels (both rules): ``likely authentic`` if p < 0.30, ``likely manipulated`` if
p > 0.70, ``inconclusive`` in between.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from forensics.calibration import Calibrator
from forensics.detector import Finding, Status

METHOD = "logodds-auc/1"  # the fallback rule (kept under this name for older callers)
FALLBACK_METHOD = METHOD
STACKED_METHOD = "stacked-logistic/1"
MODEL_NAME = "fusion"
MODEL_FILE = "fusion.json"
LOW, HIGH = 0.30, 0.70
_EPS = 1e-4


def _logit(p: float) -> float:
    p = min(max(float(p), _EPS), 1 - _EPS)
    return math.log(p / (1 - p))


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


def label_for(p: float | None, low: float = LOW, high: float = HIGH) -> str:
    if p is None:
        return "no decision"
    if p < low:
        return "likely authentic"
    if p > high:
        return "likely manipulated"
    return "inconclusive"


def _thresholds(low: float = LOW, high: float = HIGH) -> dict[str, float]:
    return {"likely_authentic_below": low, "likely_manipulated_above": high}


# ------------------------------------------------------------------------------ calibration
def calibrate(cal: dict[str, Any], p: float) -> float:
    """Apply a stored per-detector calibration map (``platt``, ``isotonic`` or ``identity``) to a probability.

    The maps are :class:`forensics.calibration.Calibrator` JSON; fusion clips log-odds at ``1e-4``.
    """
    if cal["method"] not in ("platt", "isotonic", "identity", "constant"):
        raise ValueError(f"unknown calibration method {cal['method']!r}")
    return Calibrator.from_json({"input": "logit", "eps": _EPS, **cal})(p)


# ------------------------------------------------------------------------------ the trained model
@dataclass
class FusionModel:
    """A trained stacking model (see the module docstring). ``data`` is the JSON stored in ``fusion.json``."""

    data: dict[str, Any]
    ref: dict[str, Any] | None = None  # registry reference (file, SHA-256, card)
    error_rate: dict[str, Any] | None = None
    fallback_error_rate: dict[str, Any] | None = None

    @property
    def detectors(self) -> list[dict[str, Any]]:
        return self.data["detectors"]

    @property
    def names(self) -> list[str]:
        return [d["name"] for d in self.detectors]

    @property
    def thresholds(self) -> tuple[float, float]:
        t = self.data.get("thresholds", {})
        return float(t.get("likely_authentic_below", LOW)), float(t.get("likely_manipulated_above", HIGH))

    def features(self, probs: dict[str, float | None], calibrated: bool = False) -> np.ndarray:
        """``[z_1..z_k, r_1..r_k]`` for the model's detectors; ``probs[name]`` is None when it did not run."""
        z, r = [], []
        for d in self.detectors:
            p = probs.get(d["name"])
            if p is None:
                z.append(0.0)
                r.append(0.0)
            else:
                q = p if calibrated else calibrate(d["calibration"], p)
                z.append(_logit(q))
                r.append(1.0)
        return np.array(z + r)

    def probability(self, probs: dict[str, float | None]) -> float:
        x = self.features(probs)
        k = len(self.detectors)
        w = np.array([d["weight"] for d in self.detectors] + [d["presence"] for d in self.detectors])
        return _sigmoid(float(self.data["intercept"] + w @ x)) if k else 0.5

    def mismatch(self, findings: list[Finding]) -> str | None:
        """Why this model cannot fuse these findings, or ``None`` if it can."""
        got = {f.detector: f for f in findings}
        extra = sorted(set(got) - set(self.names))
        if extra:
            return (f"detector(s) {', '.join(extra)} were not in the fusion model's training data "
                    f"(it knows {', '.join(self.names)})")
        absent = sorted(set(self.names) - set(got))
        if absent:
            return f"detector(s) {', '.join(absent)}, which the fusion model expects, were not run"
        for d in self.detectors:
            f = got[d["name"]]
            if d.get("version") and f.version != d["version"]:
                return (f"detector {d['name']} is version {f.version}; the fusion model was trained on version "
                        f"{d['version']}")
            if d.get("n_ran") == 0 and f.status is Status.RAN:
                return (f"detector {d['name']} ran here but never ran on the fusion model's validation data "
                        "(it has no learned weight)")
            want = d.get("model_sha256")
            have = _model_sha(f)
            if want and have and want != have:
                return (f"detector {d['name']}'s model weights changed (SHA-256 {have[:12]}…, fusion was trained "
                        f"with {want[:12]}…)")
        return None

    def fuse(self, findings: list[Finding]) -> dict[str, Any]:
        low, high = self.thresholds
        got = {f.detector: f for f in findings}
        contributions, missing = [], []
        total = float(self.data["intercept"])
        for d in self.detectors:
            f = got[d["name"]]
            if f.status is not Status.RAN:
                missing.append({"detector": f.detector, "status": f.status.value, "reason": f.reason,
                                "contribution_logit": 0.0})
                continue
            q = calibrate(d["calibration"], f.probability)
            c = d["weight"] * _logit(q) + d["presence"]
            total += c
            contributions.append({
                "detector": f.detector, "probability": round(f.probability, 6),
                "calibrated_probability": round(q, 6), "calibration": d["calibration"]["method"],
                "weight": round(d["weight"], 6), "presence_offset": round(d["presence"], 6),
                "contribution_logit": round(c, 6), "auc": (f.error_rate or {}).get("auc"),
            })
        # with no detector scoring, the intercept alone would be a verdict without evidence: none is given
        p = _sigmoid(total) if contributions else None
        return {
            "probability": None if p is None else round(p, 6), "label": label_for(p, low, high),
            "reason": "" if contributions else "no detector produced a score",
            "method": STACKED_METHOD, "thresholds": _thresholds(low, high),
            "intercept_logit": round(float(self.data["intercept"]), 6),
            "contributions": contributions, "missing": missing,
            "rule": {"used": "trained", "method": STACKED_METHOD, "why": "a trained fusion model is installed and "
                     "matches the detectors that ran", "model": self.ref},
            "error_rate": self.error_rate,
        }


def _model_sha(f: Finding) -> str | None:
    files = (f.model or {}).get("files") or {}
    shas = sorted(v.get("sha256", "") for v in files.values())
    return "+".join(shas) if shas else None


_loaded: dict[str, Any] = {}


def load_model() -> tuple[FusionModel | None, str]:
    """The installed fusion model (hash-checked), or ``(None, why not)``."""
    from forensics.models import ModelUnavailable, load_card

    try:
        card = load_card(MODEL_NAME)
    except ModelUnavailable as exc:
        return None, f"no trained fusion model is installed ({exc})"
    key = card.hashes.get("model", "")
    if _loaded.get("key") != key:
        try:
            data = json.loads(card.path("model").read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError) as exc:
            return None, f"the fusion model is unreadable: {exc}"
        _loaded.clear()
        _loaded.update(key=key, model=FusionModel(data=data, ref=card.model_ref(), error_rate=card.error_rate(),
                                                  fallback_error_rate=card.data.get("fallback_metrics")))
    return _loaded["model"], ""


# ------------------------------------------------------------------------------ the fallback rule
def weight_for(finding: Finding) -> float:
    auc = (finding.error_rate or {}).get("auc")
    if auc is None:
        return 0.0
    return max(0.0, 2.0 * float(auc) - 1.0)


def fuse_fallback(findings: list[Finding]) -> dict[str, Any]:
    """The AUC-weighted log-odds mean (``logodds-auc/1``)."""
    contributions = []
    missing = []
    total_w = 0.0
    acc = 0.0
    for f in findings:
        if f.status is not Status.RAN:
            missing.append({"detector": f.detector, "status": f.status.value, "reason": f.reason})
            continue
        w = weight_for(f)
        lo = _logit(f.probability)
        contributions.append({"detector": f.detector, "probability": round(f.probability, 6),
                              "calibrated_probability": round(f.probability, 6), "calibration": "detector's own",
                              "weight": round(w, 6), "logit": round(lo, 6), "auc": (f.error_rate or {}).get("auc")})
        total_w += w
        acc += w * lo
    if total_w <= 0:
        reason = ("no detector produced a score" if not contributions
                  else "the detectors that ran have no measured error rate above chance, so they carry no weight")
        p = None
    else:
        p = _sigmoid(acc / total_w)
        reason = ""
        for c in contributions:
            c["share"] = round(c["weight"] / total_w, 6)
            c["contribution_logit"] = round(c["weight"] * c["logit"] / total_w, 6)
    return {
        "probability": None if p is None else round(p, 6),
        "label": label_for(p),
        "reason": reason,
        "method": FALLBACK_METHOD,
        "thresholds": _thresholds(),
        "contributions": contributions,
        "missing": missing,
    }


# ------------------------------------------------------------------------------ entry points
def fuse(findings: list[Finding], model: FusionModel | None | str = "installed") -> dict[str, Any]:
    """Fuse one item's findings. Returns the verdict with every detector's contribution and the rule used.

    ``model``: ``"installed"`` (the registry's fusion model, if any), a :class:`FusionModel`,
    or ``None`` (always the fallback rule).
    """
    why = ""
    if isinstance(model, str):
        model, why = load_model()
    elif model is None:
        why = "the fallback rule was requested"
    if model is not None:
        why = model.mismatch(findings) or ""
        if not why:
            return model.fuse(findings)
    verdict = fuse_fallback(findings)
    verdict["rule"] = {"used": "fallback", "method": FALLBACK_METHOD, "why": why,
                       "model": model.ref if model is not None else None}
    fb = model.fallback_error_rate if model is not None else None
    if fb and sorted(fb.get("detectors", [])) == sorted(f.detector for f in findings):
        verdict["error_rate"] = fb
    else:
        verdict["error_rate"] = None
    return verdict


def describe() -> dict[str, Any]:
    """For the findings document: the installed fusion model (or why none), its measured error rate, the rules."""
    model, why = load_model()
    out: dict[str, Any] = {
        "method": STACKED_METHOD if model is not None else FALLBACK_METHOD,
        "fallback_method": FALLBACK_METHOD,
        "doc": (__doc__ or "").strip(),
        "thresholds": _thresholds(*(model.thresholds if model else (LOW, HIGH))),
        "model": model.ref if model is not None else None,
        "model_status": "installed, hash verified" if model is not None else why,
        "detectors": model.names if model is not None else [],
        "error_rate": model.error_rate if model is not None else None,
        "fallback_error_rate": model.fallback_error_rate if model is not None else None,
    }
    return out


def summarise(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Case-level summary over the items' JSON records."""
    counts: dict[str, int] = {}
    rules: dict[str, int] = {}
    for it in items:
        v = it.get("verdict") or {}
        label = v.get("label", "not analysed")
        counts[label] = counts.get(label, 0) + 1
        if v.get("rule"):
            rules[v["rule"]["method"]] = rules.get(v["rule"]["method"], 0) + 1
    flagged = [it["id"] for it in items if (it.get("verdict") or {}).get("label") == "likely manipulated"]
    integrity_failures = [it["id"] for it in items if it.get("integrity") == "CHANGED"]
    with_messages = [it["id"] for it in items if it.get("messages")]
    return {
        "items": len(items),
        "media_items": sum(1 for it in items if it["kind"] in ("image", "video")),
        "verdict_counts": dict(sorted(counts.items())),
        "fusion_rules": dict(sorted(rules.items())),
        "likely_manipulated": flagged,
        "integrity_failures": integrity_failures,
        "items_with_messages": with_messages,
    }
