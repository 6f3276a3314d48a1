"""Built-in detector plugins of forensics.

Each subpackage is registered through the ``forensics.detectors`` entry-point group,
exactly as a third-party plugin is (see ``pyproject.toml``).
"""
