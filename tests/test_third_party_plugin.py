"""A third-party plugin, installed as its own distribution, adds a detector and commands through the hooks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

HERE = Path(__file__).parent


def _install(site: Path) -> None:
    """Make ``forensics-example-blur`` importable with a real entry point (a dist-info on the path)."""
    shutil.copytree(HERE / "example_plugin" / "forensics_example_blur", site / "forensics_example_blur")
    info = site / "forensics_example_blur-1.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: forensics-example-blur\nVersion: 1.0.0\n")
    (info / "entry_points.txt").write_text('[forensics.detectors]\nexample_blur = forensics_example_blur\n')


def _run(env, *args, cwd=None):
    return subprocess.run([sys.executable, "-m", "forensics.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


@pytest.mark.slow
def test_entry_point_plugin_detector_and_commands(tmp_path):
    import skimage.data

    site, models, photos, case = (tmp_path / n for n in ("site", "models", "photos", "case"))
    for d in (site, models, photos, case):
        d.mkdir()
    _install(site)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "FORENSICS_MODELS_PATH": str(models)}
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera"):
        Image.fromarray(np.asarray(getattr(skimage.data, name)())).save(photos / f"{name}.png")

    listed = _run(env, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)["detectors"]}
    assert "example_blur" in rows and "forensics-example-blur 1.0.0" in rows["example_blur"]["source"]
    assert rows["example_blur"]["model"]["status"] == "unavailable"  # not trained yet

    assert "hello from forensics-example-blur" in _run(env, "example-hello").stdout
    trained = _run(env, "train", "example_blur", "--data", photos, "--out", models / "example_blur")
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout.strip().splitlines()[-1])["auc"] > 0.9
    assert (models / "example_blur" / "MODEL_CARD.md").read_text().startswith("# Example blur detector")

    Image.fromarray(np.asarray(skimage.data.astronaut())).save(case / "sharp.png")
    out = tmp_path / "report"
    res = _run(env, "analyze", case, "-o", out, "-d", "example_blur")
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "findings.json").read_text())
    f = doc["items"][0]["findings"][0]
    assert f["detector"] == "example_blur" and f["status"] == "ran" and f["probability"] < 0.5


def test_failing_command_hook_is_reported_not_fatal():
    import types

    import typer

    from forensics.api import hookimpl
    from forensics.plugins import load_plugins, register_commands

    def boom(cli, train):
        raise RuntimeError("cannot register")

    def taken(cli, train):
        @train.command("fusion")
        def other() -> None:
            pass

    bad = types.SimpleNamespace(__name__="bad_cmds", forensics_register_commands=hookimpl(boom))
    dup = types.SimpleNamespace(__name__="dup_cmds", forensics_register_commands=hookimpl(taken))
    ps = load_plugins(extra=[bad, dup], entry_points=False)
    cli, train = typer.Typer(), typer.Typer()

    @train.command("fusion")
    def fusion() -> None:
        pass

    register_commands(ps, cli, train)
    msgs = {p.plugin: p.message for p in ps.problems}
    assert "raised RuntimeError" in msgs["bad_cmds"]
    assert "already taken" in msgs["dup_cmds"]
    assert [c.name for c in train.registered_commands] == ["fusion"]
