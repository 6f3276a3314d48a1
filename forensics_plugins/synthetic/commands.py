"""``forensics train synthetic``: this plugin's command, registered through ``forensics_register_commands``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from forensics import api


def _named(values: list[str], what: str) -> list[tuple[str, Path]]:
    out = []
    for v in values:
        name, sep, folder = v.partition("=")
        if not sep:
            name, folder = Path(v).name, v
        p = Path(folder)
        if not p.is_dir():
            api.fail(f"{what} folder not found: {folder}")
        if not name:
            api.fail(f"{what} source without a name: {v!r} (use NAME=DIR)")
        out.append((name, p))
    return out


def _command() -> str:
    """The reproduction command, with the folder of every ``NAME=DIR`` value made portable too."""
    import shlex
    import sys

    out = []
    for a in sys.argv[1:]:
        name, sep, folder = a.partition("=")
        if sep and not a.startswith("-") and folder:
            out.append(f"{name}={api.training_command([folder]).split(' ', 1)[1]}")
        else:
            out.append(api.training_command([a]).split(" ", 1)[1])
    return " ".join(["forensics", *out]) if out else shlex.join(["forensics"])


def train_synthetic(
    real: List[str] = typer.Option(..., "--real", help="Folder of REAL photos, as NAME=DIR (repeatable). A real "
                                   "source named like a --fake source is that generator's partner: held out with "
                                   "it in the leave-one-generator-out measurement. Other real sources only train."),
    fake: List[str] = typer.Option(..., "--fake", help="Folder of fully GENERATED images, as NAME=DIR, one "
                                   "generator / data set per name (repeatable)."),
    face: List[str] = typer.Option([], "--face", help="Name of a source whose images are faces (repeatable); "
                                   "the others count as non-face images in the per-domain figures."),
    sources: Optional[Path] = typer.Option(None, help="JSON file describing each source (repository, commit, "
                                           "paths, licence, how the label is known), copied into the card."),
    out: Path = typer.Option(None, help="Model folder to write [default: the built-in models/synthetic]."),
    max_per_class: int = typer.Option(300, help="At most this many files per source (deterministic subsample)."),
    cache: Path = typer.Option(Path.home() / ".cache" / "forensics" / "synthetic",
                               help="Feature cache (one npz per file, named by its SHA-256)."),
    threads: int = typer.Option(1, help="CPU threads for the frozen backbone."),
    seed: int = typer.Option(0, help="Random seed of the augmentation (same data + seed = same model)."),
    cues: str = typer.Option("residual,blocks,npr", help="Comma-separated cues to use, from spectral, residual, "
                             "probe, blocks, npr (all are computed and cached)."),
    both_views: bool = typer.Option(True, "--both-views/--train-view-only", help="Fit the cue models on the "
                                    "training view and the test-view re-encoding of every training file."),
    stack: str = typer.Option("mean", help="Combination of the cue scores: mean (unweighted, nothing fitted) or "
                              "logistic (fitted on leave-one-source-out scores)."),
    nuisance: str = typer.Option("residual=4,blocks=4", help="Per cue, how many directions between the real "
                                 "sources to project out before its fit, as CUE=K,... ('none': no projection)."),
    ablations: bool = typer.Option(True, "--ablations/--no-ablations", help="Also measure alternatives to the "
                                   "recipe leave-one-generator-out (the card's Ablations table)."),
    fusion_set: Optional[Path] = typer.Option(None, "--fusion-set", help="Also write a validation set for the "
                                              "fusion: test views of held-out-generator files, one folder per "
                                              "generator, with their out-of-fold scores recorded in the card."),
    fusion_set_per_class: int = typer.Option(40, help="Files per class and generator in --fusion-set."),
) -> None:
    """Train the fully-generated-image detector and measure it leave-one-generator-out (see its model card)."""
    import torch

    from .train import train

    torch.set_num_threads(max(1, threads))
    fakes, reals = _named(fake, "--fake"), _named(real, "--real")
    info = {}
    if sources is not None:
        try:
            info = json.loads(sources.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            api.fail(f"cannot read --sources {sources}: {exc}")
    nk: dict[str, int] = {}
    if nuisance.strip().lower() not in ("", "none"):
        for part in nuisance.split(","):
            c, sep, k = part.strip().partition("=")
            if not sep or not k.strip().isdigit():
                api.fail(f"--nuisance: expected CUE=K, got {part!r}")
            nk[c.strip()] = int(k)
    target = out or api.builtin_models_dir() / "synthetic"
    with api.Progress() as bar:
        try:
            card = train(fakes, reals, target, faces=list(face), sources_info=info, max_per_class=max_per_class,
                         cache=cache, seed=seed, command=_command(),
                         cues=tuple(c.strip() for c in cues.split(",") if c.strip()), both_views=both_views,
                         stack=stack, nuisance=nk, ablations=ablations, fusion_set=fusion_set,
                         fusion_set_per_class=fusion_set_per_class,
                         progress=lambda label, done, total: bar.update("synthetic", done, total, label),
                         log=typer.echo)
        except ValueError as exc:
            api.fail(str(exc))
    keys = ("auc", "auc_ci95", "auc_ci95_kind", "auc_ci95_files", "eer", "balanced_accuracy", "n_test", "n_test_positive",
            "n_test_negative", "kind")
    typer.echo(json.dumps({
        "metrics": {k: card["metrics"].get(k) for k in keys},
        "by_domain": {d: {c: {"auc": r[c]["auc"], "auc_ci95": r[c]["auc_ci95"]} for c in r if c != "generators"}
                      for d, r in card["by_domain"].items()},
        "per_generator": {g: {c: r[c]["auc"] for c in r} for g, r in card["per_generator"].items()},
        "format_baseline_within_source": {g: r["auc"] for g, r in card["format_baseline"]["within_source"].items()},
        "in_source_cues": {g: {c: r[c]["auc"] for c in r} for g, r in card["in_source_cues"].items()},
    }, indent=2))


def register(train: typer.Typer) -> None:
    """Add ``forensics train synthetic`` to the ``train`` group."""
    train.command("synthetic")(train_synthetic)
