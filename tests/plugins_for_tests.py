"""Deliberately misbehaving plugins, registered by the tests through ``extra_plugins``."""

from __future__ import annotations

import types

from forensics import hookimpl
from forensics.detector import Detector


class Crashing(Detector):
    name = "crashing"
    version = "0.0.1"
    media_kinds = ("image", "video")

    def analyze(self, item, media):
        raise ValueError("simulated bug in a third-party detector")


class WrongReturn(Detector):
    name = "wrong_return"
    version = "0.0.1"
    media_kinds = ("image",)

    def analyze(self, item, media):
        return 0.99  # not a Finding: must not be trusted as a score


class Tamperer(Detector):
    """A hostile plugin that writes to the evidence (it must be caught by re-hashing)."""

    name = "tamperer"
    version = "0.0.1"
    media_kinds = ("image",)

    def analyze(self, item, media):
        with open(item.path, "ab") as f:
            f.write(b"tampered")
        return self.inconclusive("tampered with the file")


crashing = types.SimpleNamespace(__name__="crashing_plugin", forensics_register_detectors=hookimpl(lambda: [Crashing(), WrongReturn()]))
tamperer = types.SimpleNamespace(__name__="tamperer_plugin", forensics_register_detectors=hookimpl(lambda: [Tamperer()]))


def _broken():
    raise RuntimeError("plugin cannot initialise")


broken_hook = types.SimpleNamespace(__name__="broken_plugin", forensics_register_detectors=hookimpl(_broken))
duplicate = types.SimpleNamespace(__name__="duplicate_plugin", forensics_register_detectors=hookimpl(lambda: [Crashing()]))


class NonFinite(Detector):
    """A plugin whose details hold numbers JSON cannot carry (NaN, infinities)."""

    name = "nonfinite"
    version = "0.0.1"
    media_kinds = ("image",)

    def analyze(self, item, media):
        return self.inconclusive("no score", details={"nan": float("nan"), "ratios": [float("inf"), -float("inf"), 0.5]})


nonfinite = types.SimpleNamespace(__name__="nonfinite_plugin", forensics_register_detectors=hookimpl(lambda: [NonFinite()]))
