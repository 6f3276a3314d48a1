"""forensics: an auditable media-forensics toolkit.

The public API for detector authors lives in :mod:`forensics.detector` (``Detector``,
``Finding``, ``Artifact``) and :mod:`forensics.hookspecs` (the pluggy hooks). Everything
else is the host: case intake, media access, fusion and reporting.
"""

__version__ = "0.1.0"

FINDINGS_SCHEMA = "forensics.findings/1"

from forensics.hookspecs import hookimpl  # noqa: E402  (re-exported for plugin authors)

__all__ = ["__version__", "hookimpl", "FINDINGS_SCHEMA"]
