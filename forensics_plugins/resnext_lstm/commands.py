"""``forensics train resnext_lstm``: this plugin's command, registered through ``forensics_register_commands``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from forensics import api


def train_resnext_lstm(
    data: List[Path] = typer.Option(..., "--data", help="Labelled videos: real/ + fake/ folders, FaceForensics++, Celeb-DF or DFDC layout (repeatable)."),
    out: Path = typer.Option(None, help="Model folder to write [default: the built-in models/resnext_lstm]."),
    layout: Optional[str] = typer.Option(None, help="Force the layout: folders, faceforensics, celebdf or dfdc [default: detect]."),
    compression: Optional[str] = typer.Option(None, help="FaceForensics++ only: keep one compression level (raw, c23, c40)."),
    seq_len: int = typer.Option(20, help="Frames per sequence: 10, 20, 40, 60, 80 or 100."),
    epochs: int = typer.Option(20, help="Training epochs (one random window per training video each)."),
    batch_size: int = typer.Option(4, help="Sequences per batch."),
    lr: float = typer.Option(1e-5, help="Adam learning rate."),
    weight_decay: float = typer.Option(1e-3, help="Adam weight decay."),
    hidden: int = typer.Option(512, help="LSTM width (the seed uses 2048: 113 MB of fp16 weights)."),
    backbone: str = typer.Option("resnext50_32x4d", help="resnext50_32x4d (the seed) or resnet18."),
    device: str = typer.Option("auto", help="auto (CUDA when available), cuda or cpu."),
    amp: bool = typer.Option(True, help="Mixed precision (fp16 on CUDA, bf16 on CPU)."),
    balance: bool = typer.Option(True, help="Class-weighted cross-entropy."),
    seed: int = typer.Option(0, help="Random seed (split, windows, initialisation)."),
    test_fraction: float = typer.Option(0.3, help="Share of identities held out for the measured error rate."),
    checkpoint_dir: Optional[Path] = typer.Option(None, help="Checkpoint folder [default: ~/.cache/forensics/resnext_lstm/runs/<config>]."),
    resume: bool = typer.Option(True, help="Resume from the checkpoint of the same configuration."),
    cache_dir: Optional[Path] = typer.Option(None, help="Face-crop cache [default: ~/.cache/forensics/resnext_lstm/crops]."),
    max_minutes: Optional[float] = typer.Option(None, help="Stop training after this many minutes (the model keeps the steps done; checkpoints stay at whole epochs)."),
    self_blend: List[Path] = typer.Option([], "--self-blend", help="Folder(s) of REAL clips for a self-supervised first stage: each clip vs the clip self-blended with one mask and smooth jitter across time (repeatable)."),
    self_blend_epochs: int = typer.Option(10, help="Epochs of the self-blend stage (with --self-blend)."),
    test_data: List[Path] = typer.Option([], "--test-data", help="Labelled videos of a source NOT in --data: the held-out figure is then cross-source (the detector votes only on such a figure) (repeatable)."),
) -> None:
    """Train the ResNeXt-LSTM video detector; report AUC/EER on held-out identities; write fp16 weights + card."""
    from .train import TrainConfig, train

    for d in [*data, *self_blend, *test_data]:
        if not d.is_dir():
            api.fail(f"data folder not found: {d}")
    cfg = TrainConfig(seq_len=seq_len, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                      hidden=hidden, backbone=backbone, amp=amp, balance=balance, seed=seed,
                      test_fraction=test_fraction, self_blend_epochs=self_blend_epochs if self_blend else 0,
                      self_blend=",".join(sorted(d.name for d in self_blend)))
    command = api.training_command()
    card = train(data, out or api.builtin_models_dir() / "resnext_lstm", cfg, layout=layout, compression=compression,
                 device=device, checkpoint_dir=checkpoint_dir, resume=resume, cache_dir=cache_dir,
                 max_minutes=max_minutes, command=command, echo=typer.echo, self_blend_dirs=list(self_blend),
                 test_dirs=list(test_data))
    typer.echo(json.dumps(card["metrics"], indent=2))


def register(train: typer.Typer) -> None:
    """Add ``forensics train resnext_lstm`` to the ``train`` group."""
    train.command("resnext_lstm")(train_resnext_lstm)
    train.command("resnext-lstm", hidden=True)(train_resnext_lstm)  # the documented hyphen alias
