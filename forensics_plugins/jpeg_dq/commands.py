"""``forensics train jpeg_dq``: this plugin's command, registered through ``forensics_register_commands``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from forensics import api


def train_jpeg_dq(
    data: List[Path] = typer.Option(..., "--data", help="Folder(s) of AUTHENTIC host photos to fit on (repeatable); "
                                    "30 % of their hosts are held out."),
    cross: List[Path] = typer.Option([], "--cross", help="Folder(s) of authentic host photos used ONLY for the "
                                     "cross-source measurement (repeatable)."),
    out: Path = typer.Option(None, help="Model folder to write [default: the built-in models/jpeg_dq]."),
    include_builtin: bool = typer.Option(True, help="Add scikit-image's sample photos to the cross-source hosts."),
    max_per_source: Optional[int] = typer.Option(400, help="Hosts drawn at most from each folder (seeded)."),
    cache: Path = typer.Option(Path.home() / ".cache" / "forensics" / "jpeg_dq", help="Feature cache (resumable)."),
    seed: int = typer.Option(0, help="Random seed (same data + seed = same model)."),
    pixel_hosts: int = typer.Option(200, help="Cross-source hosts whose pairs are also measured through the pixel "
                                    "path (decoded, as a PNG copy would be)."),
    real_set: List[Path] = typer.Option([], "--real-set", help="Real tampered-photo set (real/, fake/, mask/) "
                                        "measured as a cross-check, never fitted on (repeatable)."),
) -> None:
    """Fit the JPEG double-compression score on generated double-compressed splices; print held-out figures."""
    from .train import train

    for d in list(data) + list(cross) + list(real_set):
        if not d.is_dir():
            api.fail(f"data folder not found: {d}")
    target = out or api.builtin_models_dir() / "jpeg_dq"
    try:
        card = train(list(data), list(cross), target, include_builtin=include_builtin, max_per_source=max_per_source,
                     seed=seed, cache_dir=cache, command=api.training_command(), echo=typer.echo,
                     pixel_hosts=pixel_hosts, real_sets=list(real_set))
    except ValueError as exc:
        api.fail(str(exc))
    typer.echo(json.dumps({"metrics": card["metrics"], "evaluations": card["evaluations"]}, indent=2))


def register(train: typer.Typer) -> None:
    """Add ``forensics train jpeg_dq`` to the ``train`` group."""
    train.command("jpeg_dq")(train_jpeg_dq)
