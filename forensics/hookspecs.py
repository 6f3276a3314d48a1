"""The plugin contract: every hook ``forensics`` calls, in one place.

A plugin is any module or object carrying functions decorated with
``forensics.hookimpl``. It is found through the ``forensics.detectors`` entry-point
group (``[project.entry-points."forensics.detectors"]`` in its ``pyproject.toml``).
The built-in detectors in ``plugins/`` are registered exactly this way.

Minimal third-party detector::

    # my_detector/__init__.py
    from forensics import hookimpl
    from forensics.detector import Detector, Finding

    class Sharpness(Detector):
        name = "sharpness"
        version = "1.0"
        media_kinds = ("image",)

        def analyze(self, item, media):
            ...
            return self.ran(probability=p, score=s, summary="...")

    @hookimpl
    def forensics_register_detectors():
        return [Sharpness()]

and in its ``pyproject.toml``::

    [project.entry-points."forensics.detectors"]
    sharpness = "my_detector"
"""

from __future__ import annotations

import pluggy

PROJECT_NAME = "forensics"
ENTRY_POINT_GROUP = "forensics.detectors"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def forensics_register_detectors():
    """Return the detectors this plugin provides.

    Called once when the plugin manager is built.

    Returns
    -------
    list[forensics.detector.Detector]
        Detector instances. Each must have a unique ``name`` across all plugins;
        a later duplicate is reported as a broken plugin and ignored.
    """
