"""``forensics train fwa``: this plugin's command, registered through ``forensics_register_commands``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from forensics import api


def train_fwa(
    faces: List[Path] = typer.Option(..., "--faces", help="Folder(s) of REAL face images or videos (repeatable); "
                                     "the training fakes are made from them (SBI and/or warps)."),
    out: Path = typer.Option(None, help="Model folder to write [default: the built-in models/fwa]."),
    manifest: Optional[Path] = typer.Option(None, help="Data manifest (data_manifest.json of a model) to reproduce: "
                                            "the same files with the same SHA-256 must be under --faces."),
    cross_check: List[Path] = typer.Option([], "--cross-check", help="Folder with real/ and fake/ of REAL manipulated "
                                            "media to measure on (repeatable; never trained on)."),
    report_metrics: Optional[str] = typer.Option(None, help="Cross-check (folder name) that becomes the card's "
                                                 "error rate for videos [default: the last one]."),
    image_metrics: Optional[str] = typer.Option(None, help="Cross-check (folder name) used as the error rate for "
                                                "still images [default: the video one]."),
    vote_check: List[str] = typer.Option([], "--vote-check", help="Further video cross-check(s) (folder name) "
                                         "whose item AUC interval must also lie above 0.5 for the detector to vote on "
                                         "videos: the least favourable figure decides (repeatable)."),
    negatives: str = typer.Option("sbi", help="Training fakes: sbi (self-blended images), warp (Li & Lyu warps), "
                                  "both (one of the two per face) or sbi_regen (SBI whose source is, half the time, "
                                  "given a decoder-like rendering: edge-preserving smoothing)."),
    size: int = typer.Option(112, help="Network input side in pixels."),
    steps: int = typer.Option(160, help="Training steps (each: --batch-faces real faces + as many fakes)."),
    batch_faces: int = typer.Option(16, help="Real faces per step."),
    lr: float = typer.Option(5e-4, help="AdamW learning rate."),
    test_fraction: float = typer.Option(0.1, help="Share of identities held out (sources of >= 200 files)."),
    max_minutes: Optional[float] = typer.Option(None, help="Stop at the first checkpoint after this many minutes "
                                                "(nothing is shipped; --resume continues)."),
    exclude: List[str] = typer.Option([], help="Regex on cross-check file names to leave out (repeatable; e.g. "
                                      "FaceForensics++ ids reserved for a separate hold-out)."),
    compare: List[Path] = typer.Option([], help="Model folder(s) of other runs (e.g. other --negatives) to tabulate "
                                       "beside these weights in the card (repeatable)."),
    notes: Optional[Path] = typer.Option(None, help="Markdown file whose paragraphs become the card's Notes section."),
    threads: int = typer.Option(1, help="CPU threads for torch (1 is fastest on a busy 2-core machine)."),
    frozen_stages: Optional[int] = typer.Option(None, help="Lite0 block stages (of 7) kept at their ImageNet "
                                                "weights [default: 3]."),
    head: str = typer.Option("finetune", help="finetune: train the later stages (the default); probe: keep the "
                             "whole ImageNet backbone frozen and fit a logistic regression on its pooled multi-stage "
                             "features of --pool-pairs real/negative pairs (frozen-feature variant)."),
    pool_pairs: int = typer.Option(0, help="0: make every step's pairs on the fly; N: make N fixed pairs once, "
                                   "cache their frozen-trunk outputs (in --work-dir) and draw each step's batch "
                                   "from them (much cheaper steps on CPU)."),
    cache: Path = typer.Option(Path.home() / ".cache" / "forensics" / "fwa-faces",
                               help="Face-crop cache folder (npz per file, keyed by SHA-256)."),
    work_dir: Optional[Path] = typer.Option(None, help="Checkpoint folder [default: OUT/_work]."),
    resume: bool = typer.Option(False, help="Continue from the last checkpoint of the same settings."),
    seed: int = typer.Option(0, help="Random seed (same data + seed = same weights)."),
) -> None:
    """Train the FWA slot's face-blending detector from real faces only (SBI + warps) and measure it cross-source."""
    from .train import train

    for d in list(faces) + list(cross_check):
        if not d.is_dir():
            api.fail(f"folder not found: {d}")
    if notes is not None and not notes.is_file():
        api.fail(f"notes file not found: {notes}")
    if manifest is not None and not manifest.is_file():
        api.fail(f"manifest not found: {manifest}")
    target = out or api.builtin_models_dir() / "fwa"
    with api.Progress() as bar:
        try:
            card = train(faces, target, cross_checks=cross_check, negatives=negatives, size=size, steps=steps,
                         batch_faces=batch_faces, lr=lr, seed=seed, test_fraction=test_fraction, manifest=manifest,
                         cache_dir=cache, work_dir=work_dir, resume=resume, max_minutes=max_minutes,
                         report_metrics=report_metrics, image_metrics=image_metrics, vote_checks=vote_check,
                         threads=threads, frozen_stages=frozen_stages, pool_pairs=pool_pairs, head=head,
                         exclude=exclude,
                         compare=compare,
                         notes=[] if notes is None else [p.strip() for p in notes.read_text(encoding='utf-8').split('\n\n') if p.strip()],
                         command=api.training_command(),
                         progress=lambda label, done, total: bar.update("fwa", done, total, label), log=typer.echo)
        except ValueError as exc:
            api.fail(str(exc))
    if card is None:
        raise typer.Exit(3)
    typer.echo(json.dumps({"metrics": {k: card["metrics"].get(k) for k in ("auc", "auc_ci95", "eer", "dataset")},
                           "voting": card["voting"]}, indent=2))


def register(train: typer.Typer) -> None:
    """Add ``forensics train fwa`` to the ``train`` group."""
    train.command("fwa")(train_fwa)
