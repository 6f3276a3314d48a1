"""``forensics train noise``: this plugin's command, registered through ``forensics_register_commands``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from forensics import api


def train_noise(
    data: List[Path] = typer.Option([], "--data", help="Folder(s) of authentic photos used as hosts and donors."),
    out: Optional[Path] = typer.Option(None, help="Model folder to write [default: the built-in models/noise]."),
    max_per_dir: int = typer.Option(120, help="Host photos drawn from each --data folder (seeded sample)."),
    include_builtin: bool = typer.Option(True, help="Also use scikit-image's bundled public-domain photos."),
    seed: int = typer.Option(0, help="Random seed (deterministic for a given seed)."),
    real_set: List[Path] = typer.Option([], "--real-set", help="Real tampered-photo set (real/, fake/, mask/) "
                                        "measured as a cross-check, never fitted or tuned on (repeatable)."),
    max_false_mark: float = typer.Option(0.10, "--max-false-mark", min=0.0, max=1.0,
                                         help="Largest share of the training hosts' authentic images allowed a marked "
                                         "region; sets the mask gate's threshold."),
    gate_rule: str = typer.Option("upper95", "--gate-rule", help="upper95: the Wilson 95 % upper bound of the training "
                                  "false-mark rate is at most --max-false-mark; point: the measured rate is."),
) -> None:
    """Calibrate the noise detector on splices generated from authentic photos; print held-out metrics."""
    from .train import train

    if gate_rule not in ("upper95", "point"):
        api.fail(f"--gate-rule must be upper95 or point, not {gate_rule!r}")
    for d in list(data) + list(real_set):
        if not d.is_dir():
            api.fail(f"data folder not found: {d}")
    card = train(list(data), out or api.builtin_models_dir() / "noise", max_per_dir=max_per_dir,
                 include_builtin=include_builtin, seed=seed, command=api.training_command(), echo=typer.echo,
                 real_sets=list(real_set), max_false_mark=max_false_mark, gate_rule=gate_rule)
    typer.echo(json.dumps({"metrics": card["metrics"], "evaluations": card["evaluations"], "cost": card["cost"],
                           "feature": card["feature"],
                           "mark_gate": card["mark_gate"]}, indent=2))


def register(train: typer.Typer) -> None:
    """Add ``forensics train noise`` to the ``train`` group."""
    train.command("noise")(train_noise)
