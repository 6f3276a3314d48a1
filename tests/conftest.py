"""Shared fixtures: small generated media, never ../shared/data."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest


def jpeg_bytes(rgb: np.ndarray, quality: int = 90) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def png_bytes(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut()[::2, ::2].copy()  # 256x256 RGB


@pytest.fixture
def make_case(tmp_path):
    """Create a case folder from ``{name: bytes}`` (names may be bytes for non-UTF-8)."""

    def _make(files: dict, name: str = "case") -> Path:
        root = tmp_path / name
        root.mkdir()
        for rel, data in files.items():
            p = os.path.join(os.fsencode(root), rel if isinstance(rel, bytes) else os.fsencode(rel))
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
        return root

    return _make


@pytest.fixture
def run_cli():
    from typer.testing import CliRunner

    from forensics.cli import app

    runner = CliRunner()

    def _run(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return _run


def load_findings(out: Path) -> dict:
    return json.loads((out / "findings.json").read_text(encoding="utf-8"))


def item_by_path(doc: dict, path: str) -> dict:
    for it in doc["items"]:
        if it["path"] == path:
            return it
    raise KeyError(f"{path} not in {[i['path'] for i in doc['items']]}")
