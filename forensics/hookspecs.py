"""The plugin contract: every hook ``forensics`` calls, in one place.

A plugin is any module or object carrying functions decorated with ``forensics.api.hookimpl``.
It is found through the ``forensics.detectors`` entry-point group (``[project.entry-points."forensics.detectors"]`` in its ``pyproject.toml``).
The built-in detectors are registered exactly this way.

Minimal third-party detector::

    # my_detector/__init__.py
    from forensics.api import Detector, hookimpl

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

    @hookimpl
    def forensics_register_commands(cli, train):
        @train.command("sharpness")
        def train_sharpness(data: Path = typer.Option(..., "--data")):
            ...  # fit, then write the model card with forensics.api.write_model_card

and in its ``pyproject.toml``::

    [project.entry-points."forensics.detectors"]
    sharpness = "my_detector"

Hooks
-----
* :func:`forensics_register_detectors` -- the detectors a plugin provides;
* :func:`forensics_register_commands` -- subcommands it adds to the ``forensics`` command line
  (its ``forensics train <detector>`` and anything else), as datasette's ``register_commands``.

Everything plugin code needs from the host is in :mod:`forensics.api`. Extra plugin modules can
also be named in the environment variable ``FORENSICS_PLUGINS`` (comma-separated dotted names),
which is how the tests register an example third-party plugin without installing it.
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


@hookspec
def forensics_register_commands(cli, train):
    """Add subcommands to the ``forensics`` command line.

    Called once when the command line is built, after the core commands exist.

    Parameters
    ----------
    cli : typer.Typer
        The top-level ``forensics`` application: ``@cli.command("name")`` adds ``forensics name``.
    train : typer.Typer
        The ``forensics train`` group. Name a detector's training command after the detector
        (``@train.command("fwa")``); the single alias rule is that a name with underscores may
        also be registered with hyphens (``resnext-lstm`` for ``resnext_lstm``), hidden from help.

    Returns
    -------
    None
        Commands are added to ``cli`` / ``train`` in place. A name already taken is reported as a
        plugin problem and the later command ignored; an exception names the plugin and the rest
        of the command line still works.
    """
