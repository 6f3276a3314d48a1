"""``forensics train rppg``: this plugin's command, registered through ``forensics_register_commands``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from forensics import api


def train_rppg(
    data: Path = typer.Option(..., "--data", help="Folder with real/ and fake/ videos, or with labels.csv."),
    labels: Optional[Path] = typer.Option(None, help="Labels CSV with columns path,label,group (group optional); default: DATA/labels.csv if present."),
    groups: str = typer.Option("auto", help="Cross-validation groups: 'auto' (shared identity ids in file names) or 'video'."),
    out: Optional[Path] = typer.Option(None, help="Model folder to write; default: the built-in models/rppg."),
    cache: Optional[Path] = typer.Option(None, help="Folder to cache per-video colour traces (keyed by file SHA-256)."),
) -> None:
    """Train the rPPG detector's SVM on face videos; report leave-one-group-out AUC/EER."""
    from .train import train

    if not data.is_dir():
        api.fail(f"data folder not found: {data}")
    if groups not in ("auto", "video"):
        api.fail("--groups must be 'auto' or 'video'")
    metrics = train(data, out or api.builtin_models_dir() / "rppg", labels=labels, groups=groups, cache=cache,
                    echo=typer.echo, command=api.training_command())
    typer.echo(json.dumps(metrics, indent=2))


def register(train: typer.Typer) -> None:
    """Add ``forensics train rppg`` to the ``train`` group."""
    train.command("rppg")(train_rppg)
