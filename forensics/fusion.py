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
A detector that never ran on the validation data (``n_ran`` 0) and did not run on this
item either contributes nothing to the trained rule, so its version is not checked.

Positive-evidence stacker (``stacked-positive/1``)
--------------------------------------------------
The same stacker with ``z_d = max(0, logit(q_d))``: a detector contributes only the evidence it finds *for*
manipulation. The detectors look for different kinds of manipulation (copied regions, a second JPEG
compression, a generated image, a blended face); a copy-move detector that finds no copy says nothing about
whether the image was generated, but in the signed stacker its "no copy here" log-odds would cancel the
synthetic-image detector's evidence. With positive parts only, one detector that finds its kind of
manipulation is not outvoted by the others finding none of theirs; "nothing found" enters through the
presence offsets and the intercept. ``forensics train fusion`` measures both stackers cross-source and keeps
the one the rule selection prefers.

Fallback rule (``logodds-auc/1``)
---------------------------------
Each detector that *ran* contributes its own calibrated probability ``p_i`` in
log-odds, weighted by its held-out separation ``w_i = max(0, 2·AUC_i − 1)`` (from its
model card; a detector at chance level gets no say): ``L = Σ w_i·logit(p_i) / Σ w_i``.
Detectors that did not run are listed as missing and contribute nothing. A detector
without a measured AUC gets no weight. With no weighted detector: "no decision".

Recalibrated fallback (``logodds-auc-recalibrated/1``)
-----------------------------------------------------
The fallback rule's log-odds ``L`` mapped per media kind by a two-parameter Platt map fitted on the
validation data, ``p = σ(a·L + b)``: the ranking of the fallback rule with its calibration corrected. Two
parameters per kind cannot let a detector measured on a handful of files dominate.

Which rule is used
------------------
``forensics train fusion`` measures the three rules cross-source (leave-one-validation-source-out for the
two that fit anything; the fallback rule fits nothing on the validation data) and installs the one with the
lowest expected calibration error among those whose AUC is within 0.02 of the best (ties: the simpler
rule). ``fusion.json``'s ``selected`` names it; its card states every candidate's figure. The selected rule
is valid only for the detector set, versions and weights it was measured with, and only for the media
kinds the validation data held; anything else gets the plain fallback rule, and the verdict says why.

Training (``forensics train fusion``) lives in :mod:`forensics.fusion_train`; this module only applies a model.

Labels (both rules): ``likely authentic`` if p < 0.30, ``likely manipulated`` if
p > 0.70, ``inconclusive`` in between.

Weight of evidence (both rules): the fused probability assumes even prior odds, so it is also the
likelihood ratio ``LR = p / (1 − p)`` of "manipulated" against "authentic"; each verdict states it with its
ENFSI (2015) verbal equivalent, a bootstrap 95 % interval (trained rule) and empirical bounds set by the
size of the validation data (Vergeer et al. 2016): a fused probability is never stated beyond what
``n`` validation files can support (``LR`` within ``[1 / (n_manipulated + 1), n_authentic + 1]``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from forensics.calibration import Calibrator
from forensics.detector import Finding, Status

METHOD = "logodds-auc/1"  # the fallback rule (kept under this name for older callers)
FALLBACK_METHOD = METHOD
STACKED_METHOD = "stacked-logistic/1"
POSITIVE_METHOD = "stacked-positive/1"  # the stacker over each detector's evidence *for* manipulation only
STACKED_METHODS = (STACKED_METHOD, POSITIVE_METHOD)
RECAL_METHOD = "logodds-auc-recalibrated/1"
RULES = (FALLBACK_METHOD, RECAL_METHOD, STACKED_METHOD, POSITIVE_METHOD)  # simplest first
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
def log_odds_map(cal: dict[str, Any]) -> Calibrator:
    """A stored Platt map of fused log-odds (``{"method": "platt", "a", "b"}``, per media kind) as a
    :class:`forensics.calibration.Calibrator` on the raw log-odds."""
    return Calibrator.from_json({"input": "raw", **cal})


def calibrate(cal: dict[str, Any], p: float) -> float:
    """Apply a stored per-detector calibration map (``platt``, ``isotonic`` or ``identity``) to a probability.

    The maps are :class:`forensics.calibration.Calibrator` JSON; fusion clips log-odds at ``1e-4``.
    """
    if cal["method"] not in ("platt", "isotonic", "identity", "constant"):
        raise ValueError(f"unknown calibration method {cal['method']!r}")
    return Calibrator.from_json({"input": "logit", "eps": _EPS, **cal})(p)


# ------------------------------------------------------------------------------ likelihood ratios
ENFSI_SCALE = (  # ENFSI Guideline for Evaluative Reporting in Forensic Science (2015), verbal equivalents
    (1.0, "no support for either proposition"),
    (10.0, "weak support"),
    (100.0, "moderate support"),
    (1_000.0, "moderately strong support"),
    (10_000.0, "strong support"),
    (1_000_000.0, "very strong support"),
    (math.inf, "extremely strong support"),
)
ENFSI_CITATION = ("ENFSI Guideline for Evaluative Reporting in Forensic Science, European Network of Forensic "
                  "Science Institutes, 2015 (verbal scale of likelihood ratios)")
PROPOSITIONS = {"manipulated": "the file was manipulated", "authentic": "the file is authentic (not manipulated)"}
PRIOR_NOTE = ("The probability assumes even prior odds (1:1) of manipulated and authentic; the likelihood ratio does "
              "not depend on a prior: posterior odds = prior odds × LR.")


def verbal_equivalent(lr: float) -> tuple[str, str]:
    """``(verbal expression, favoured proposition)`` for a likelihood ratio on the ENFSI (2015) scale.

    LR 1 supports neither proposition; 2–10 weak, 10–100 moderate, 100–1,000 moderately strong,
    1,000–10,000 strong, 10,000–1,000,000 very strong, above 1,000,000 extremely strong support. An LR
    below 1 is read as ``1 / LR`` in favour of the other proposition. The bands are closed on the left:
    LR = 10 is "moderate support".
    """
    if not lr > 0:
        raise ValueError(f"a likelihood ratio must be positive, not {lr!r}")
    favoured = "manipulated" if lr > 1 else "authentic" if lr < 1 else "neither"
    x = lr if lr >= 1 else 1.0 / lr
    if x < 2.0:
        return ENFSI_SCALE[0][1], "neither"
    for upper, words in ENFSI_SCALE[1:]:
        if x < upper:
            return f"{words} for the proposition that {PROPOSITIONS[favoured]}", favoured
    raise AssertionError("unreachable")  # pragma: no cover


def likelihood_ratio(p: float, bounds: tuple[float, float] | None = None,
                     samples: Iterable[float] = ()) -> dict[str, Any]:
    """The likelihood ratio implied by a fused probability ``p`` computed under even prior odds.

    With 1:1 prior odds the posterior odds equal the likelihood ratio, ``LR = p / (1 − p)``. ``bounds``
    (``(lo, hi)``) are empirical lower/upper bounds on the LR that the validation data can support
    (after Vergeer et al., *Forensic Sci. Int.* 2016, "empirical lower and upper bounds": with n authentic
    validation files the data cannot demonstrate an LR above about n + 1, and symmetrically); the reported
    LR is clipped to them and the record says so. ``samples`` are bootstrap replicates of the fused
    probability (the fusion model refitted on resampled validation data), from which the 95 % interval
    is taken.
    """
    p = min(max(float(p), 1e-12), 1 - 1e-12)
    lr = p / (1 - p)
    clipped = False
    if bounds is not None:
        lo, hi = bounds
        if lr > hi or lr < lo:
            lr, clipped = min(max(lr, lo), hi), True
    reps = sorted(min(max(q, 1e-12), 1 - 1e-12) / (1 - min(max(q, 1e-12), 1 - 1e-12)) for q in samples)
    ci = None
    if len(reps) >= 20:
        lo_r, hi_r = np.quantile(reps, [0.025, 0.975])
        if bounds is not None:
            lo_r, hi_r = min(max(lo_r, bounds[0]), bounds[1]), min(max(hi_r, bounds[0]), bounds[1])
        ci = [round(float(lo_r), 4), round(float(hi_r), 4)]
    words, favoured = verbal_equivalent(lr)
    return {"lr": round(lr, 4), "log10_lr": round(math.log10(lr), 3), "ci95": ci, "verbal": words,
            "favours": favoured, "bounds": None if bounds is None else [round(bounds[0], 6), round(bounds[1], 4)],
            "clipped_to_bounds": clipped, "prior_note": PRIOR_NOTE, "scale": ENFSI_CITATION,
            "interval_note": ("bootstrap of the fusion model over its validation data" if ci else
                              "no interval: this rule has no resampled model to draw it from")}


def validation_bounds(n_authentic: int | None, n_manipulated: int | None) -> tuple[float, float] | None:
    """LR bounds ``(1 / (n_manipulated + 1), n_authentic + 1)`` that a validation set of this size supports."""
    if not n_authentic or not n_manipulated:
        return None
    return 1.0 / (n_manipulated + 1), float(n_authentic + 1)


def _cap_probability(p: float, bounds: tuple[float, float] | None) -> float:
    if bounds is None:
        return p
    lo, hi = bounds
    return min(max(p, lo / (1 + lo)), hi / (1 + hi))


@dataclass
class Contribution:
    """One detector's part in a fused verdict (both rules fill the same fields; ``None`` where a rule has none)."""

    detector: str
    probability: float
    calibrated_probability: float
    calibration: str
    weight: float
    contribution_logit: float | None
    auc: float | None
    share: float | None = None  # fallback rule: weight / total weight
    presence_offset: float | None = None  # trained rule: the learned offset for "this detector ran"
    logit: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass
class Missing:
    """A detector that did not score this item, and why; it contributes nothing."""

    detector: str
    status: str
    reason: str
    contribution_logit: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Verdict:
    """The fused verdict of one item: every field is always present (``None`` where it does not apply)."""

    probability: float | None
    label: str
    reason: str
    method: str
    thresholds: dict[str, float]
    contributions: list[Contribution]
    missing: list[Missing]
    rule: dict[str, Any] | None = None
    error_rate: dict[str, Any] | None = None
    intercept_logit: float | None = None
    likelihood_ratio: dict[str, Any] | None = None
    probability_uncapped: float | None = None
    kind_calibration: str | None = None
    caveat: str | None = None  # set by the engine (e.g. a partial decode)
    timeline: dict[str, Any] | None = None  # set by the timeline step for videos

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["contributions"] = [c.to_json() for c in self.contributions]
        out["missing"] = [m.to_json() for m in self.missing]
        for k in ("probability", "probability_uncapped", "intercept_logit"):
            if out[k] is not None:
                out[k] = round(out[k], 6)
        return out


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
    def selected(self) -> str:
        """The rule ``forensics train fusion`` selected (models written before the selection: the stacker)."""
        return self.data.get("selected", STACKED_METHOD)

    def measured_kind(self, kind: str | None) -> bool:
        """Whether the validation data held items of this media kind (older models: assume yes)."""
        kinds = self.data.get("validation_kinds")
        return kinds is None or kind is None or kind in kinds

    def fuse_recalibrated(self, findings: list[Finding], kind: str | None) -> dict[str, Any] | None:
        """The fallback rule's log-odds through this kind's Platt map; ``None`` when the kind has no map."""
        cal = (self.data.get("recalibration") or {}).get(kind or "")
        if not cal:
            return None
        v = fuse_fallback(findings)
        v["method"] = RECAL_METHOD
        v["rule"] = {"used": "trained", "method": RECAL_METHOD, "model": self.ref,
                     "why": "the installed fusion model selected this rule and matches the detectors that ran"}
        v["error_rate"] = self.error_rate
        if v["probability_uncapped"] is None:
            return v
        q = float(log_odds_map(cal)(_logit(v["probability_uncapped"])))
        low, high = self.thresholds
        p = _cap_probability(q, self.bounds)
        v.update(probability=round(p, 6), probability_uncapped=round(q, 6), label=label_for(p, low, high),
                 likelihood_ratio=likelihood_ratio(q, self.bounds), kind_calibration=kind)
        return v

    @property
    def names(self) -> list[str]:
        return [d["name"] for d in self.detectors]

    @property
    def thresholds(self) -> tuple[float, float]:
        t = self.data.get("thresholds", {})
        return float(t.get("likely_authentic_below", LOW)), float(t.get("likely_manipulated_above", HIGH))

    @property
    def positive(self) -> bool:
        """Whether the stacker reads only each detector's evidence for manipulation (``stacked-positive/1``)."""
        return self.data.get("method") == POSITIVE_METHOD

    def evidence(self, q: float) -> float:
        """The stacker's input for a calibrated probability ``q``: its log-odds, or their positive part."""
        z = _logit(q)
        return max(z, 0.0) if self.positive else z

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
                z.append(self.evidence(q))
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
            if d.get("n_ran") == 0 and f.status is not Status.RAN:
                # never ran on the validation data and not here either: it contributes nothing to the fitted rule,
                # so its version and weights cannot change the verdict (e.g. a video-only detector on an image)
                continue
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

    def logodds(self, probs: dict[str, float | None], intercept: float, weights, presence) -> float:
        z = self.features(probs)
        k = len(self.detectors)
        return float(intercept + np.dot(weights, z[:k]) + np.dot(presence, z[k:]))

    @property
    def bounds(self) -> tuple[float, float] | None:
        c = self.data.get("validation_counts") or {}
        return validation_bounds(c.get("authentic"), c.get("manipulated"))

    def kind_map(self, kind: str | None) -> Calibrator | None:
        cal = (self.data.get("kind_calibration") or {}).get(kind or "")
        return log_odds_map(cal) if cal else None

    def _mapped(self, z: float, kc: Calibrator | None) -> float:
        """Fused log-odds ``z`` as a probability: through the media kind's map ``kc`` where there is one."""
        return float(kc(z)) if kc is not None else _sigmoid(z)

    def verdict_probability(self, probs: dict[str, float | None], kind: str | None = None) -> float | None:
        """The probability :meth:`fuse` states for these detector outputs (``None``: no detector ran): the stacked
        log-odds through this media kind's map, capped by the validation size. What the cross-source figures of
        ``forensics train fusion`` measure, so they describe the verdicts as reported."""
        if all(probs.get(d["name"]) is None for d in self.detectors):
            return None
        z = self.logodds(probs, self.data["intercept"], [d["weight"] for d in self.detectors],
                         [d["presence"] for d in self.detectors])
        return _cap_probability(self._mapped(z, self.kind_map(kind)), self.bounds)

    def fuse(self, findings: list[Finding], kind: str | None = None) -> dict[str, Any]:
        low, high = self.thresholds
        got = {f.detector: f for f in findings}
        contributions, missing = [], []
        total = float(self.data["intercept"])
        probs: dict[str, float | None] = {}
        for d in self.detectors:
            f = got[d["name"]]
            if f.status is not Status.RAN:
                missing.append(Missing(f.detector, f.status.value, f.reason))
                probs[d["name"]] = None
                continue
            probs[d["name"]] = f.probability
            q = calibrate(d["calibration"], f.probability)
            c = d["weight"] * self.evidence(q) + d["presence"]
            total += c
            contributions.append(Contribution(
                detector=f.detector, probability=f.probability, calibrated_probability=q,
                calibration=d["calibration"]["method"], weight=d["weight"], contribution_logit=c,
                auc=(f.error_rate or {}).get("auc"), presence_offset=d["presence"]))
        # with no detector scoring, the intercept alone would be a verdict without evidence: none is given
        p = lr = p_raw = None
        kc = self.kind_map(kind)
        if contributions:
            p_raw = self._mapped(total, kc)
            p = _cap_probability(p_raw, self.bounds)
            samples = [self._mapped(self.logodds(probs, bs["intercept"], bs["weights"], bs["presence"]), kc)
                       for bs in self.data.get("bootstrap") or []]
            lr = likelihood_ratio(p_raw, self.bounds, samples)
        method = POSITIVE_METHOD if self.positive else STACKED_METHOD
        return Verdict(
            probability=p, label=label_for(p, low, high),
            reason="" if contributions else "no detector produced a score",
            method=method, thresholds=_thresholds(low, high),
            contributions=contributions, missing=missing,
            rule={"used": "trained", "method": method, "why": "a trained fusion model is installed and "
                  "matches the detectors that ran", "model": self.ref},
            error_rate=self.error_rate, intercept_logit=float(self.data["intercept"]), likelihood_ratio=lr,
            probability_uncapped=p_raw, kind_calibration=(kind if kc is not None else None),
        ).to_json()


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
    contributions: list[Contribution] = []
    missing: list[Missing] = []
    total_w = 0.0
    acc = 0.0
    counts_a, counts_m = [], []
    for f in findings:
        if f.status is not Status.RAN:
            missing.append(Missing(f.detector, f.status.value, f.reason))
            continue
        w = weight_for(f)
        lo = _logit(f.probability)
        er = f.error_rate or {}
        contributions.append(Contribution(
            detector=f.detector, probability=f.probability, calibrated_probability=f.probability,
            calibration="detector's own", weight=w, contribution_logit=None, auc=er.get("auc"), logit=lo))
        if w > 0:
            counts_a.append(er.get("n_test_negative"))
            counts_m.append(er.get("n_test_positive"))
        total_w += w
        acc += w * lo
    p = p_raw = lr = None
    if total_w <= 0:
        reason = ("no detector produced a score" if not contributions
                  else "the detectors that ran have no measured error rate above chance, so they carry no weight")
    else:
        reason = ""
        p_raw = _sigmoid(acc / total_w)
        # the largest validation set among the weighted detectors bounds what the evidence can support
        bounds = validation_bounds(max((c for c in counts_a if c), default=None),
                                   max((c for c in counts_m if c), default=None))
        p = _cap_probability(p_raw, bounds)
        lr = likelihood_ratio(p_raw, bounds)
        for c in contributions:
            c.share = c.weight / total_w
            c.contribution_logit = c.weight * c.logit / total_w
    return Verdict(probability=p, label=label_for(p), reason=reason, method=FALLBACK_METHOD,
                   thresholds=_thresholds(), contributions=contributions, missing=missing, likelihood_ratio=lr,
                   probability_uncapped=p_raw).to_json()


# ------------------------------------------------------------------------------ entry points
def fuse(findings: list[Finding], model: FusionModel | None | str = "installed", kind: str | None = None) -> dict[str, Any]:
    """Fuse one item's findings. Returns the :class:`Verdict` (as JSON) with every detector's contribution,
    the rule used, the likelihood ratio and its ENFSI verbal equivalent.

    ``model``: ``"installed"`` (the registry's fusion model, if any), a :class:`FusionModel`,
    or ``None`` (always the fallback rule). ``kind`` (``image`` / ``video``) selects the trained model's
    per-media-kind recalibration where it has one.
    """
    why = ""
    if isinstance(model, str):
        model, why = load_model()
    elif model is None:
        why = "the fallback rule was requested"
    measured = False  # whether the fallback rule's figure on the validation data applies to this item
    if model is not None:
        why = model.mismatch(findings) or ""
        if not why and not model.measured_kind(kind):
            why = (f"the fusion model's validation data held no {kind}s, so no rule has a measured error rate "
                   f"for them")
        elif not why:
            measured = True
            if model.selected in STACKED_METHODS:
                return model.fuse(findings, kind=kind)
            if model.selected == RECAL_METHOD:
                v = model.fuse_recalibrated(findings, kind)
                if v is not None:
                    return v
                why = f"the selected rule has no recalibration for {kind or 'this kind'}"
            else:
                why = ("the installed fusion model selected the fallback rule: "
                       + ((model.data.get("selection") or {}).get("reason") or "it measured best"))
    verdict = fuse_fallback(findings)
    verdict["rule"] = {"used": "fallback", "method": FALLBACK_METHOD, "why": why,
                       "model": model.ref if model is not None else None}
    fb = model.fallback_error_rate if model is not None else None
    verdict["error_rate"] = fb if (measured and fb and fb.get("auc") is not None) else None
    return verdict


def describe() -> dict[str, Any]:
    """For the findings document: the installed fusion model (or why none), its measured error rate, the rules."""
    model, why = load_model()
    out: dict[str, Any] = {
        "method": model.selected if model is not None else FALLBACK_METHOD,
        "selection": (model.data.get("selection") if model is not None else None),
        "validation_kinds": (model.data.get("validation_kinds") if model is not None else None),
        "fallback_method": FALLBACK_METHOD,
        "trained_method": (model.data.get("method", STACKED_METHOD) if model is not None else STACKED_METHOD),
        "doc": (__doc__ or "").strip(),
        "thresholds": _thresholds(*(model.thresholds if model else (LOW, HIGH))),
        "model": model.ref if model is not None else None,
        "model_status": "installed, hash verified" if model is not None else why,
        "detectors": model.names if model is not None else [],
        "error_rate": model.error_rate if model is not None else None,
        "fallback_error_rate": model.fallback_error_rate if model is not None else None,
        "likelihood_ratio": {"scale": ENFSI_CITATION, "verbal_scale": [[u, w] for u, w in ENFSI_SCALE if u != math.inf]
                             + [["above", ENFSI_SCALE[-1][1]]], "prior_note": PRIOR_NOTE},
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
