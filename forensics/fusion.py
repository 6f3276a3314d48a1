"""Fusion: one verdict per evidence item from the detectors' calibrated probabilities.

Method (version ``logodds-auc/1``)
---------------------------------
Each detector that *ran* contributes its calibrated probability ``p_i`` in log-odds,
weighted by how well it is known to separate authentic from manipulated media on its
held-out evaluation: ``w_i = max(0, 2·AUC_i − 1)`` (Youden-like: a detector at chance
level gets no say). The fused log-odds is the weighted mean
``L = Σ w_i·logit(p_i) / Σ w_i`` and the fused probability is ``σ(L)``.

Detectors that were not applicable, inconclusive, unavailable or failed are listed as
*missing* and contribute nothing: they are never imputed as 0.5. A detector without a
measured AUC gets no weight (its finding is still shown). With no contributing
detector the verdict is "no decision".

Labels: ``likely authentic`` if p < 0.30, ``likely manipulated`` if p > 0.70,
``inconclusive`` in between.
"""

from __future__ import annotations

import math
from typing import Any

from forensics.detector import Finding, Status

METHOD = "logodds-auc/1"
LOW, HIGH = 0.30, 0.70
_EPS = 1e-4


def _logit(p: float) -> float:
    p = min(max(p, _EPS), 1 - _EPS)
    return math.log(p / (1 - p))


def label_for(p: float | None) -> str:
    if p is None:
        return "no decision"
    if p < LOW:
        return "likely authentic"
    if p > HIGH:
        return "likely manipulated"
    return "inconclusive"


def weight_for(finding: Finding) -> float:
    auc = (finding.error_rate or {}).get("auc")
    if auc is None:
        return 0.0
    return max(0.0, 2.0 * float(auc) - 1.0)


def fuse(findings: list[Finding]) -> dict[str, Any]:
    """Fuse one item's findings. Returns the verdict with every detector's contribution."""
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
        contributions.append({"detector": f.detector, "probability": round(f.probability, 6), "weight": round(w, 6),
                              "logit": round(lo, 6), "auc": (f.error_rate or {}).get("auc")})
        total_w += w
        acc += w * lo
    if total_w <= 0:
        reason = ("no detector produced a score" if not contributions
                  else "the detectors that ran have no measured error rate, so they carry no weight")
        p = None
    else:
        p = 1 / (1 + math.exp(-acc / total_w))
        reason = ""
        for c in contributions:
            c["share"] = round(c["weight"] / total_w, 6)
            c["contribution_logit"] = round(c["weight"] * c["logit"] / total_w, 6)
    return {
        "probability": None if p is None else round(p, 6),
        "label": label_for(p),
        "reason": reason,
        "method": METHOD,
        "thresholds": {"likely_authentic_below": LOW, "likely_manipulated_above": HIGH},
        "contributions": contributions,
        "missing": missing,
    }


def summarise(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Case-level summary over the items' JSON records."""
    counts: dict[str, int] = {}
    for it in items:
        label = (it.get("verdict") or {}).get("label", "not analysed")
        counts[label] = counts.get(label, 0) + 1
    flagged = [it["id"] for it in items if (it.get("verdict") or {}).get("label") == "likely manipulated"]
    integrity_failures = [it["id"] for it in items if it.get("integrity") == "CHANGED"]
    with_messages = [it["id"] for it in items if it.get("messages")]
    return {
        "items": len(items),
        "media_items": sum(1 for it in items if it["kind"] in ("image", "video")),
        "verdict_counts": dict(sorted(counts.items())),
        "likely_manipulated": flagged,
        "integrity_failures": integrity_failures,
        "items_with_messages": with_messages,
    }
