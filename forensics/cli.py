"""Command line: ``forensics analyze | verify | plugins | train | demo``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from forensics import __version__

app = typer.Typer(
    help="Auditable media forensics: hash evidence, run detector plugins, fuse their scores, write a tamper-evident report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
train_app = typer.Typer(help="Train or calibrate a detector's model from data you provide.", no_args_is_help=True)
app.add_typer(train_app, name="train")


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"forensics {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    pass


def _progress_callback():
    """A rich progress bar on a terminal; silence otherwise."""
    if not sys.stderr.isatty():
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    prog = Progress(TextColumn("{task.description:<13}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("[dim]{task.fields[label]}"), console=Console(stderr=True), transient=False)
    tasks: dict[str, int] = {}

    def cb(phase: str, done: int, total: int, label: str) -> None:
        if phase not in tasks:
            tasks[phase] = prog.add_task(phase, total=total, label="")
        prog.update(tasks[phase], completed=done, total=total, label=label[-50:])

    return prog, cb


@app.command()
def analyze(
    case_dir: Path = typer.Argument(..., help="Folder holding the evidence (searched recursively; never modified)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder [default: ./report-<case folder name>]."),
    examiner: Optional[str] = typer.Option(None, help="Examiner name (overrides case.toml)."),
    case_id: Optional[str] = typer.Option(None, "--case-id", help="Case number (overrides case.toml)."),
    detector: Optional[List[str]] = typer.Option(None, "--detector", "-d", help="Run only this detector (repeatable)."),
    plugin: Optional[List[str]] = typer.Option(None, "--plugin", help="Also load this plugin module (dotted name; repeatable)."),
    max_pixels: int = typer.Option(100_000_000, help="Decompression-bomb limit: images with more pixels are not decoded."),
    as_json: bool = typer.Option(False, "--json", help="Also print findings.json to standard output."),
) -> None:
    """Analyse every file in CASE_DIR and write report.html, findings.json, custody.log and manifest.sha256."""
    from forensics.engine import CaseError, analyze_case
    from forensics.report import MANIFEST, write_outputs

    case_dir = Path(os.path.abspath(case_dir))
    if not case_dir.is_dir():
        fail(f"case folder not found: {case_dir}")
    out_dir = Path(os.path.abspath(out or Path.cwd() / f"report-{case_dir.name}"))
    real_case, real_out = os.path.realpath(case_dir), os.path.realpath(out_dir)
    if real_out == real_case or real_out.startswith(real_case + os.sep):
        fail("the output folder must not be inside the case folder (evidence folders are never written to)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".forensics-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        fail(f"output folder {out_dir} is not writable: {exc.strerror or exc}")

    prog, cb = _progress_callback()
    try:
        if prog:
            prog.start()
        result = analyze_case(case_dir, out_dir=out_dir, examiner=examiner, case_id=case_id,
                              detectors=detector or None, extra_plugins=plugin or (), max_pixels=max_pixels,
                              progress=cb)
    except (CaseError, KeyError) as exc:
        fail(str(exc).strip("'\""))
    finally:
        if prog:
            prog.stop()
    try:
        manifest = write_outputs(result, out_dir)
    except OSError as exc:
        fail(f"could not write the report to {out_dir}: {exc.strerror or exc}")
    doc = result.document
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    s = doc["summary"]
    import hashlib

    mhash = hashlib.sha256((out_dir / MANIFEST).read_bytes()).hexdigest()
    echo = (lambda m: typer.echo(m, err=True)) if as_json else typer.echo
    echo(f"Analysed {s['items']} file(s), {s['media_items']} image/video: "
         + ", ".join(f"{v} {k}" for k, v in s["verdict_counts"].items()))
    if s["integrity_failures"]:
        echo(f"INTEGRITY FAILURE on: {', '.join(s['integrity_failures'])}")
    for p in doc["plugin_problems"]:
        echo(f"plugin problem: {p['plugin']}: {p['message']}")
    echo(f"Report:   {out_dir / 'report.html'}")
    echo(f"Findings: {out_dir / 'findings.json'} ({len(manifest)} files in {MANIFEST}, sha256 {mhash})")


@app.command()
def verify(
    out_dir: Path = typer.Argument(..., help="A report folder written by `forensics analyze`."),
    case: Optional[Path] = typer.Option(None, "--case", help="Also re-hash the evidence in this case folder."),
) -> None:
    """Re-check a report's files against manifest.sha256 and, with --case, the evidence against its hashes."""
    from forensics.verify import verify as run_verify

    if not out_dir.is_dir():
        fail(f"report folder not found: {out_dir}")
    if case is not None and not case.is_dir():
        fail(f"case folder not found: {case}")
    res = run_verify(out_dir, case)
    for line in res.ok:
        typer.echo(f"OK        {line}")
    for line in res.problems:
        typer.echo(f"MISMATCH  {line}")
    typer.echo("verification passed" if res.passed else f"verification FAILED: {len(res.problems)} problem(s)")
    raise typer.Exit(0 if res.passed else 1)


@app.command()
def plugins(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List the loaded detector plugins, their versions, sources and model status."""
    from forensics.plugins import load_plugins

    ps = load_plugins()
    rows = ps.describe()
    if as_json:
        typer.echo(json.dumps({"detectors": rows, "problems": [p.__dict__ for p in ps.problems]}, indent=2))
        return
    for r in rows:
        m = r["model"]
        typer.echo(f"{r['name']} {r['version']}  [{', '.join(r['media_kinds'])}]  from {r['source']}")
        model_line = m["status"]
        if "files" in m:
            model_line += "; " + ", ".join(f"{f['path']} sha256 {f['sha256'][:16]}…" for f in m["files"].values())
        if m.get("reason"):
            model_line += f": {m['reason']}"
        typer.echo(f"    model: {model_line}")
    for p in ps.problems:
        typer.echo(f"BROKEN {p.plugin}: {p.message}")
    if not rows:
        typer.echo("no detectors loaded")


@train_app.command("ela")
def train_ela(
    data: List[Path] = typer.Option(..., "--data", help="Folder(s) of authentic JPEG/PNG photos (repeatable)."),
    out: Path = typer.Option(None, help="Model folder to write [default: the built-in models/ela]."),
    per_image: int = typer.Option(2, help="Spliced + authentic pairs generated per source photo."),
    include_builtin: bool = typer.Option(True, help="Also use scikit-image's bundled public-domain photos."),
    seed: int = typer.Option(0, help="Random seed (training is deterministic for a given seed)."),
) -> None:
    """Calibrate the ELA detector on splices generated from authentic photos; report held-out AUC/EER."""
    from forensics.models import builtin_models_dir
    from forensics_plugins.ela.train import train

    for d in data:
        if not d.is_dir():
            fail(f"data folder not found: {d}")
    target = out or builtin_models_dir() / "ela"
    metrics = train(data, target, per_image=per_image, include_builtin=include_builtin, seed=seed,
                    echo=typer.echo)
    typer.echo(json.dumps(metrics, indent=2))


@train_app.command("resnext-lstm")
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
) -> None:
    """Train the ResNeXt-LSTM video detector; report AUC/EER on held-out identities; write fp16 weights + card."""
    from forensics.models import builtin_models_dir
    from forensics_plugins.resnext_lstm.train import TrainConfig, train

    for d in data:
        if not d.is_dir():
            fail(f"data folder not found: {d}")
    cfg = TrainConfig(seq_len=seq_len, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                      hidden=hidden, backbone=backbone, amp=amp, balance=balance, seed=seed,
                      test_fraction=test_fraction)
    command = ("forensics train resnext-lstm " + " ".join(f"--data {d}" for d in data)
               + f" --seq-len {seq_len} --epochs {epochs} --batch-size {batch_size} --lr {lr:g} --weight-decay "
               f"{weight_decay:g} --hidden {hidden} --backbone {backbone} --device {device} --seed {seed}"
               + ("" if amp else " --no-amp") + ("" if balance else " --no-balance")
               + (f" --max-minutes {max_minutes:g}" if max_minutes else ""))
    card = train(data, out or builtin_models_dir() / "resnext_lstm", cfg, layout=layout, compression=compression,
                 device=device, checkpoint_dir=checkpoint_dir, resume=resume, cache_dir=cache_dir,
                 max_minutes=max_minutes, command=command, echo=typer.echo)
    typer.echo(json.dumps(card["metrics"], indent=2))


@train_app.command("fusion")
def train_fusion_cmd(
    data: Optional[List[Path]] = typer.Option(None, "--data", help="Labelled validation data (real/ + fake/ or another layout); the detectors are run on it (repeatable)."),
    results: Optional[List[Path]] = typer.Option(None, "--results", help="Reuse a results.json written by `forensics evaluate --out` (repeatable)."),
    detector: Optional[List[str]] = typer.Option(None, "--detector", "-d", help="Run only these detectors on --data (repeatable)."),
    max_per_class: Optional[int] = typer.Option(None, help="Use at most this many files per label and folder (seeded subset)."),
    calibration: str = typer.Option("platt", help="Per-detector calibration: platt or isotonic."),
    folds: int = typer.Option(5, help="Cross-validation folds (calibration cross-fitting and the measured error rate)."),
    seed: int = typer.Option(0, help="Random seed."),
    out_of_fold: bool = typer.Option(True, help="Where a detector's model card lists out-of-fold predictions for a file, use them instead of its in-sample output."),
    note: str = typer.Option("", help="A note for the model card (e.g. how the validation folders were assembled)."),
    out: Path = typer.Option(None, help="Model folder to write [default: the built-in models/fusion]."),
) -> None:
    """Learn the ensemble fusion (per-detector calibration + stacking with missing-detector indicators) on validation data."""
    from forensics.evaluate import train_fusion
    from forensics.models import builtin_models_dir

    if not data and not results:
        fail("give --data DIR and/or --results FILE")
    if calibration not in ("platt", "isotonic"):
        fail("--calibration must be platt or isotonic")
    loaded = []
    for r in results or []:
        try:
            loaded.append(json.loads(r.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            fail(f"cannot read results file {r}: {exc}")
    if data:
        for d in data:
            if not d.is_dir():
                fail(f"data folder not found: {d}")
        loaded.append(_run_with_progress(data, detector, max_per_class, seed))
    command = ("forensics train fusion " + " ".join(f"--data {d}" for d in data or [])
               + "".join(f" --results {r}" for r in results or []) + "".join(f" -d {x}" for x in detector or [])
               + (f" --max-per-class {max_per_class}" if max_per_class else "")
               + f" --calibration {calibration} --folds {folds} --seed {seed}" + ("" if out_of_fold else " --no-out-of-fold"))
    card = train_fusion(loaded, out or builtin_models_dir() / "fusion", calibration=calibration, folds=folds,
                        seed=seed, command=command, use_out_of_fold=out_of_fold, note=note, echo=typer.echo)
    typer.echo(json.dumps(card["metrics"], indent=2))


def _run_with_progress(data, detector, max_per_class, seed):
    """Run detectors over labelled data with a progress bar on a terminal; errors become one line."""
    from forensics.datasets import DatasetError
    from forensics.evaluate import run_dataset

    prog, phase_cb = _progress_callback()
    cb = (lambda done, total, label: phase_cb("evaluating", done, total, label)) if prog else None  # noqa: E731
    try:
        if prog:
            prog.start()
        return run_dataset(data, detectors=detector or None, max_per_class=max_per_class, seed=seed, progress=cb)
    except DatasetError as exc:
        fail(str(exc))
    except KeyError as exc:
        fail(str(exc).strip("'\""))
    finally:
        if prog:
            prog.stop()


@app.command()
def evaluate(
    data: List[Path] = typer.Option(..., "--data", help="Labelled data: real/ + fake/ folders, FaceForensics++, Celeb-DF or DFDC layout (repeatable)."),
    detector: Optional[List[str]] = typer.Option(None, "--detector", "--detectors", "-d", help="Evaluate only these detectors (repeatable) [default: all]."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for results.json and roc.png [default: ./evaluation]."),
    max_per_class: Optional[int] = typer.Option(None, help="Evaluate at most this many files per label and folder (seeded subset)."),
    threshold: float = typer.Option(0.5, help="Decision threshold on P(manipulated) for accuracy and the confusion matrix."),
    seed: int = typer.Option(0, help="Seed for --max-per-class subsets."),
) -> None:
    """Run detectors over labelled data; print AUC, EER, accuracy, confusion matrix and ECE per detector and fused."""
    from forensics.evaluate import format_table, roc_figure, summarise
    from forensics.plots import figure_artifact
    from forensics.report import atomic_write

    for d in data:
        if not d.is_dir():
            fail(f"data folder not found: {d}")
    out_dir = Path(os.path.abspath(out or Path.cwd() / "evaluation"))
    res = _run_with_progress(data, detector, max_per_class, seed)
    summary = summarise(res, threshold)
    res["summary"] = summary
    res["command"] = " ".join(["forensics", "evaluate"] + sys.argv[2:]) if len(sys.argv) > 1 else ""
    for line in format_table(summary):
        typer.echo(line)
    try:
        atomic_write(out_dir / "results.json", (json.dumps(res, indent=1, sort_keys=True) + "\n").encode("utf-8"))
        fig = roc_figure(summary, title=", ".join(str(d) for d in data)[-80:])
        atomic_write(out_dir / "roc.png", figure_artifact(fig, "ROC").png)
    except OSError as exc:
        fail(f"could not write results to {out_dir}: {exc.strerror or exc}")
    typer.echo(f"Results: {out_dir / 'results.json'}; ROC plot: {out_dir / 'roc.png'}")


@train_app.command("blink")
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
) -> None:
    """Train the LRCN eye-state model (eye crops / faces labelled open or closed) and calibrate the blink detector on videos."""
    from forensics.models import builtin_models_dir
    from forensics_plugins.blink_lrcn.train import train

    for d in [*data, *faces, *open_faces, *closed_faces, *videos]:
        if not d.is_dir():
            fail(f"data folder not found: {d}")
    if not (data or faces or open_faces or closed_faces):
        fail("give eye-state data: --data (eye crops), --faces, --open-faces and/or --closed-faces")
    command = " ".join(["forensics train blink"] + [f"{o} {d}" for o, ds in (
        ("--data", data), ("--faces", faces), ("--open-faces", open_faces), ("--closed-faces", closed_faces),
        ("--videos", videos)) for d in ds] + [f"--cnn-epochs {cnn_epochs} --lstm-epochs {lstm_epochs} --seed {seed}"])
    card = train(list(data), out or builtin_models_dir() / "blink_lrcn", face_dirs=list(faces),
                 open_face_dirs=list(open_faces), closed_face_dirs=list(closed_faces), video_dirs=list(videos),
                 cache_dir=cache or Path.home() / ".cache" / "forensics" / "blink_lrcn", seed=seed,
                 cnn_epochs=cnn_epochs, lstm_epochs=lstm_epochs, command=command, echo=typer.echo)
    typer.echo(json.dumps({"metrics": card["metrics"], "eye_state": card["eye_state_metrics"]["cnn_per_frame_heldout"]},
                          indent=2))


# the registry's hint names models by their directory (`forensics train blink_lrcn`): accept that spelling too
train_app.command("blink_lrcn", hidden=True)(train_blink)


@app.command()
def demo(out: Path = typer.Option(Path("cases/demo"), help="Folder to (re)generate the demo case in.")) -> None:
    """(Re)generate the small demo case from media the installed packages ship."""
    from forensics.demo import make_demo_case

    for line in make_demo_case(out):
        typer.echo(line)


@train_app.command("fwa")
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
    import shlex

    from forensics.models import builtin_models_dir
    from forensics_plugins.fwa.train import train

    for d in list(faces) + list(cross_check):
        if not d.is_dir():
            fail(f"folder not found: {d}")
    target = out or builtin_models_dir() / "fwa"
    prog = None
    cb = None
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        prog = Progress(TextColumn("{task.description:<32}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=Console(stderr=True))
        task = prog.add_task("", total=1)

        def cb(label: str, done: int, total: int) -> None:
            prog.update(task, description=label[:32], completed=done, total=total)

        prog.start()
    try:
        card = train(faces, target, cross_checks=cross_check, arch=arch, size=size, epochs=epochs,
                     batch_faces=batch_faces, lr=lr, seed=seed, test_fraction=test_fraction, holdout=holdout,
                     cache_dir=cache, work_dir=work_dir, resume=resume, max_train_faces=max_train_faces,
                     max_minutes=max_minutes, report_metrics=report_metrics, image_metrics=image_metrics,
                     command=shlex.join(["forensics"] + sys.argv[1:]), progress=cb, log=typer.echo)
    except ValueError as exc:
        fail(str(exc))
    finally:
        if prog is not None:
            prog.stop()
    typer.echo(json.dumps({"metrics": card["metrics"], "metrics_synthetic": card["metrics_synthetic"]}, indent=2))


@train_app.command("rppg")
def train_rppg(
    data: Path = typer.Option(..., "--data", help="Folder with real/ and fake/ videos, or with labels.csv."),
    labels: Optional[Path] = typer.Option(None, help="Labels CSV with columns path,label,group (group optional); default: DATA/labels.csv if present."),
    groups: str = typer.Option("auto", help="Cross-validation groups: 'auto' (shared identity ids in file names) or 'video'."),
    out: Optional[Path] = typer.Option(None, help="Model folder to write; default: the built-in models/rppg."),
    cache: Optional[Path] = typer.Option(None, help="Folder to cache per-video colour traces (keyed by file SHA-256)."),
) -> None:
    """Train the rPPG detector's SVM on face videos; report leave-one-group-out AUC/EER."""
    from forensics.models import builtin_models_dir
    from forensics_plugins.rppg.train import train

    if not data.is_dir():
        fail(f"data folder not found: {data}")
    if groups not in ("auto", "video"):
        fail("--groups must be 'auto' or 'video'")
    metrics = train(data, out or builtin_models_dir() / "rppg", labels=labels, groups=groups, cache=cache,
                    echo=typer.echo)
    typer.echo(json.dumps(metrics, indent=2))


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
