"""``forensics train fwa``: this plugin's command, registered through ``forensics_register_commands``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from forensics import api


def train_fwa(
    faces: List[Path] = typer.Option(..., "--faces", help="Folder(s) of AUTHENTIC face images or videos (repeatable); "
                                     "warped negatives are generated from them."),
    out: Path = typer.Option(None, help="Model folder to write [default: the built-in models/fwa]."),
    cross_check: List[Path] = typer.Option([], "--cross-check", help="Folder with real/ and fake/ of REAL manipulated "
                                            "media to measure on (repeatable); real files used for training are left out."),
    report_metrics: Optional[str] = typer.Option(None, help="Which cross-check (folder name) becomes the card's error "
                                                 "rate [default: the last one]."),
    image_metrics: Optional[str] = typer.Option(None, help="Cross-check (folder name) used as the error rate for "
                                                "still images [default: none, use the main one]."),
    arch: str = typer.Option("efficientnet_lite0", help="efficientnet_lite0 (ImageNet-initialised) or resnet18 (from scratch)."),
    size: int = typer.Option(112, help="Network input side in pixels."),
    epochs: int = typer.Option(4, help="Passes over the training faces (each face: authentic + warped)."),
    batch_faces: int = typer.Option(16, help="Faces per batch (the batch holds twice as many images)."),
    lr: float = typer.Option(5e-4, help="AdamW learning rate."),
    test_fraction: float = typer.Option(0.15, help="Share of authentic files held out (split by file)."),
    holdout: List[str] = typer.Option([], help="Regex on file names always held out (repeatable)."),
    max_train_faces: Optional[int] = typer.Option(None, help="Use at most this many training faces."),
    max_minutes: Optional[float] = typer.Option(None, help="Stop after the epoch that passes this many minutes."),
    cache: Path = typer.Option(Path.home() / ".cache" / "forensics" / "fwa-faces", help="Face-crop cache folder."),
    work_dir: Optional[Path] = typer.Option(None, help="Checkpoint folder [default: OUT/_work]."),
    resume: bool = typer.Option(False, help="Continue from the last checkpoint."),
    seed: int = typer.Option(0, help="Random seed (same data + seed = same model)."),
) -> None:
    """Train the FWA face-warping detector self-supervised from authentic faces (Li & Lyu 2019); measure it."""
    from .train import train

    for d in list(faces) + list(cross_check):
        if not d.is_dir():
            api.fail(f"folder not found: {d}")
    target = out or api.builtin_models_dir() / "fwa"
    with api.Progress() as bar:
        try:
            card = train(faces, target, cross_checks=cross_check, arch=arch, size=size, epochs=epochs,
                         batch_faces=batch_faces, lr=lr, seed=seed, test_fraction=test_fraction, holdout=holdout,
                         cache_dir=cache, work_dir=work_dir, resume=resume, max_train_faces=max_train_faces,
                         max_minutes=max_minutes, report_metrics=report_metrics, image_metrics=image_metrics,
                         command=api.training_command(),
                         progress=lambda label, done, total: bar.update("fwa", done, total, label), log=typer.echo)
        except ValueError as exc:
            api.fail(str(exc))
    typer.echo(json.dumps({"metrics": card["metrics"], "metrics_synthetic": card["metrics_synthetic"]}, indent=2))


def register(train: typer.Typer) -> None:
    """Add ``forensics train fwa`` to the ``train`` group."""
    train.command("fwa")(train_fwa)
