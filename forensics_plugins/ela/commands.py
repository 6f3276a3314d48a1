"""``forensics train ela``: this plugin's command, registered through ``forensics_register_commands``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import typer

from forensics import api


def train_ela(
    data: List[Path] = typer.Option(..., "--data", help="Folder(s) of authentic JPEG/PNG photos (repeatable)."),
    out: Path = typer.Option(None, help="Model folder to write [default: the built-in models/ela]."),
    per_image: int = typer.Option(2, help="Spliced + authentic pairs generated per source photo."),
    include_builtin: bool = typer.Option(True, help="Also use scikit-image's bundled public-domain photos."),
    seed: int = typer.Option(0, help="Random seed (training is deterministic for a given seed)."),
    cross: List[Path] = typer.Option([], "--cross", help="Folder(s) of authentic photos from OTHER sources: splices "
                                     "generated from them measure the calibrator cross-source (repeatable)."),
    cross_max_hosts: int = typer.Option(300, help="Cross-source hosts drawn at most (seeded)."),
    keep_weights: bool = typer.Option(False, help="Do not refit: re-measure the installed calibrator on the same "
                                      "held-out split (and --cross) and rewrite its card; the weights' hash is kept."),
) -> None:
    """Calibrate the ELA detector on splices generated from authentic photos; report held-out AUC/EER."""
    from .train import train

    for d in list(data) + list(cross):
        if not d.is_dir():
            api.fail(f"data folder not found: {d}")
    target = out or api.builtin_models_dir() / "ela"
    card = train(data, target, per_image=per_image, include_builtin=include_builtin, seed=seed, echo=typer.echo,
                 cross_dirs=list(cross), cross_max_hosts=cross_max_hosts, keep_weights=keep_weights,
                 command=api.training_command())
    typer.echo(json.dumps({"metrics": card["metrics"], "evaluations": card["evaluations"]}, indent=2))


def register(train: typer.Typer) -> None:
    """Add ``forensics train ela`` to the ``train`` group."""
    train.command("ela")(train_ela)
