"""Public API for detector authors: ``Detector``, ``Finding``, ``Artifact``.

A detector receives an evidence item (metadata only: it never opens the evidence
file itself) and a :class:`forensics.media.MediaAccess` that decodes the media
read-only and caches what several detectors share. It returns one :class:`Finding`.

A detector never invents a score: if its model is missing or untrained it reports
``Status.UNAVAILABLE``; if the input does not suit it, ``Status.NOT_APPLICABLE``;
if it ran but the evidence cannot support a decision, ``Status.INCONCLUSIVE``.
Exceptions raised by ``analyze`` are caught by the host and become
``Status.FAILED`` findings naming the plugin.
"""

from __future__ import annotations

import enum
import hashlib
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from forensics.case import EvidenceItem
    from forensics.media import MediaAccess
    from forensics.models import ModelCard


class Status(str, enum.Enum):
    RAN = "ran"
    NOT_APPLICABLE = "not_applicable"
    INCONCLUSIVE = "inconclusive"
    UNAVAILABLE = "unavailable"
    FAILED = "failed"


@dataclass
class Artifact:
    """A piece of visual evidence for the report (PNG bytes).

    The report embeds it as a data URI; the output folder keeps a copy whose
    SHA-256 is listed in the manifest.
    """

    title: str
    png: bytes
    caption: str = ""
    slug: str = "artifact"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.png).hexdigest()

    @classmethod
    def from_array(cls, title: str, array, caption: str = "", slug: str = "artifact") -> "Artifact":
        """Encode an ``HxW`` or ``HxWx3`` uint8 RGB array as a PNG artifact."""
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(array).save(buf, format="PNG", optimize=False, compress_level=6)
        return cls(title=title, png=buf.getvalue(), caption=caption, slug=slug)


@dataclass
class Finding:
    """What one detector concluded about one evidence item."""

    detector: str
    version: str
    status: Status
    reason: str = ""
    probability: float | None = None  # calibrated P(manipulated), only when status == RAN
    score: float | None = None  # the detector's raw score, before calibration
    summary: str = ""
    error_rate: dict[str, Any] | None = None  # measured on named data (from the model card)
    model: dict[str, Any] | None = None  # name, version, file, sha256
    method: str = ""  # citation of the method
    details: dict[str, Any] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.status = Status(self.status)
        if self.status is Status.RAN:
            if self.probability is None:
                raise ValueError(f"{self.detector}: a finding that ran must carry a probability")
            if not 0.0 <= float(self.probability) <= 1.0:
                raise ValueError(f"{self.detector}: probability {self.probability} outside [0, 1]")
            self.probability = float(self.probability)
        elif self.probability is not None:
            raise ValueError(f"{self.detector}: only a finding that ran may carry a probability")

    def to_json(self, artifact_files: dict[int, str] | None = None) -> dict[str, Any]:
        artifact_files = artifact_files or {}
        return {
            "detector": self.detector,
            "version": self.version,
            "status": self.status.value,
            "reason": self.reason,
            "probability": None if self.probability is None else round(self.probability, 6),
            "score": None if self.score is None else round(float(self.score), 6),
            "summary": self.summary,
            "method": self.method,
            "error_rate": self.error_rate,
            "model": self.model,
            "details": self.details,
            "artifacts": [
                {"title": a.title, "caption": a.caption, "sha256": a.sha256, "file": artifact_files.get(i)}
                for i, a in enumerate(self.artifacts)
            ],
        }


class Detector:
    """Base class for detectors. Subclass it and override :meth:`analyze`.

    Class attributes
    ----------------
    name : str
        Unique, lower-case identifier (``"ela"``).
    version : str
        Version of the detector's code; bump it whenever its output can change.
    media_kinds : tuple[str, ...]
        Which evidence kinds it handles: ``"image"``, ``"video"``.
    method : str
        Citation of the published method.
    model_name : str | None
        Name of the model in the registry (``models/<model_name>/card.json``), if any.
    """

    name: str = ""
    version: str = "0"
    media_kinds: tuple[str, ...] = ()
    description: str = ""
    method: str = ""
    model_name: str | None = None

    # --- model handling -------------------------------------------------------------
    def model_card(self) -> "ModelCard | None":
        """The registry card for this detector's model (hash-checked), or ``None``.

        Raises :class:`forensics.models.ModelUnavailable` with a reason when the
        weights are missing or do not match their recorded SHA-256.
        """
        if self.model_name is None:
            return None
        from forensics.models import load_card

        return load_card(self.model_name)

    # --- applicability --------------------------------------------------------------
    def not_applicable_reason(self, item: "EvidenceItem") -> str | None:
        """Return why this detector does not apply to ``item``, or ``None`` if it does."""
        if item.kind not in self.media_kinds:
            kinds = " or ".join(self.media_kinds) or "nothing"
            return f"{self.name} analyses {kinds}; this item is {item.kind} ({item.format})"
        return None

    def analyze(self, item: "EvidenceItem", media: "MediaAccess") -> Finding:  # pragma: no cover
        raise NotImplementedError

    # --- finding constructors -------------------------------------------------------
    def _base(self, card: "ModelCard | None" = None) -> dict[str, Any]:
        base: dict[str, Any] = {"detector": self.name, "version": self.version, "method": self.method}
        if card is not None:
            base["model"] = card.model_ref()
            base["error_rate"] = card.error_rate()
        return base

    def ran(self, probability: float, card: "ModelCard | None" = None, **kw: Any) -> Finding:
        return Finding(status=Status.RAN, probability=probability, **self._base(card), **kw)

    def inconclusive(self, reason: str, card: "ModelCard | None" = None, **kw: Any) -> Finding:
        return Finding(status=Status.INCONCLUSIVE, reason=reason, **self._base(card), **kw)

    def not_applicable(self, reason: str, **kw: Any) -> Finding:
        return Finding(status=Status.NOT_APPLICABLE, reason=reason, **self._base(), **kw)

    def unavailable(self, reason: str, **kw: Any) -> Finding:
        return Finding(status=Status.UNAVAILABLE, reason=reason, **self._base(), **kw)

    def failed(self, reason: str, **kw: Any) -> Finding:
        return Finding(status=Status.FAILED, reason=reason, **self._base(), **kw)
