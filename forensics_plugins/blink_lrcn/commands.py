"""``forensics train blink_lrcn``: this plugin's command, registered through ``forensics_register_commands``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from forensics import api


def train_blink(
    data: List[Path] = typer.Option([], "--data", help="Folder(s) of eye crops in open/ and closed/ subfolders (repeatable)."),
    faces: List[Path] = typer.Option([], "--faces", help="Folder(s) of face images in open/ and closed/ subfolders; "
                                     "the eyes are cut out with the shared face pipeline (repeatable)."),
    open_faces: List[Path] = typer.Option([], "--open-faces", help="Folder(s) of face images with open eyes (repeatable)."),
    closed_faces: List[Path] = typer.Option([], "--closed-faces", help="Folder(s) of face images with closed eyes (repeatable)."),
    videos: List[Path] = typer.Option([], "--videos", help="Folder(s) with real/ and fake/ videos: calibrates the "
                                      "detector's probability and measures its AUC (leave-one-video-out)."),
    out: Optional[Path] = typer.Option(None, help="Model folder to write (default: the built-in models/blink_lrcn)."),
    cache: Optional[Path] = typer.Option(None, help="Cache for face-pipeline results (default: ~/.cache/forensics/blink_lrcn)."),
    cnn_epochs: int = typer.Option(15, help="Epochs for the per-frame CNN."),
    lstm_epochs: int = typer.Option(12, help="Epochs for the LSTM on synthetic blink sequences."),
    seed: int = typer.Option(0, help="Random seed (training is deterministic for a given seed)."),
    cross_epochs: Optional[int] = typer.Option(None, help="Epochs of each cross-source eye-state run (one CNN per held-out source family) [default: --cnn-epochs]."),
    epoch_size: int = typer.Option(4000, help="Class- and source-balanced draws per CNN epoch (bounds training time "
                                   "whatever the data size; 0: one pass over the data)."),
    ema: float = typer.Option(0.0, help="Exponential moving average of the CNN weights, decay per step (0: off)."),
    open_min_ear: float = typer.Option(0.15, help="--open-faces (open label assumed, not checked): skip faces whose "
                                       "mean eye aspect ratio is below this (likely mid-blink); 0: keep all."),
) -> None:
    """Train the LRCN eye-state model (eye crops / faces labelled open or closed) and calibrate the blink detector on videos."""
    from .train import train

    for d in [*data, *faces, *open_faces, *closed_faces, *videos]:
        if not d.is_dir():
            api.fail(f"data folder not found: {d}")
    if not (data or faces or open_faces or closed_faces):
        api.fail("give eye-state data: --data (eye crops), --faces, --open-faces and/or --closed-faces")
    command = api.training_command()
    card = train(list(data), out or api.builtin_models_dir() / "blink_lrcn", face_dirs=list(faces),
                 open_face_dirs=list(open_faces), closed_face_dirs=list(closed_faces), video_dirs=list(videos),
                 cache_dir=cache or Path.home() / ".cache" / "forensics" / "blink_lrcn", seed=seed,
                 cnn_epochs=cnn_epochs, lstm_epochs=lstm_epochs, command=command, echo=typer.echo,
                 cross_epochs=cross_epochs, epoch_size=epoch_size or None, ema=ema,
                 open_min_ear=open_min_ear or None)
    es = card["eye_state_metrics"]
    typer.echo(json.dumps({"metrics": card["metrics"], "eye_state_in_source": es["cnn_per_frame_heldout"],
                           "eye_state_cross_source": {k: v["calibrated"] for k, v in es["cross_source"].items()}},
                          indent=2))


def register(train: typer.Typer) -> None:
    """Add ``forensics train blink_lrcn`` to the ``train`` group."""
    train.command("blink_lrcn")(train_blink)
    train.command("blink-lrcn", hidden=True)(train_blink)  # the documented hyphen alias
