"""Command line: the core commands ``analyze | verify | plugins | evaluate | demo | train fusion``.

Every other command -- each detector's ``forensics train <detector>`` among them -- is added by its
plugin through the ``forensics_register_commands`` hook (:mod:`forensics.hookspecs`), exactly as a
third-party plugin adds its own.

Exit codes (documented in README "Exit codes"):

* 0 -- done (analyze: report written, no integrity failure; verify: everything checked and matched)
* 1 -- verify: a mismatch (a modified, missing, refused or unlisted output, changed evidence, bad seal)
* 2 -- usage or input error (one line on standard error), e.g. no case folder, a refused output folder
* 3 -- analyze: report written, but evidence changed during the analysis (INTEGRITY FAILURE)
* 4 -- verify: nothing mismatched, but some items could not be verified (links, special files)
* 130 -- interrupted (Ctrl-C): no report folder was published
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from forensics import __version__

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE, EXIT_INTEGRITY, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

app = typer.Typer(
    help="Auditable media forensics: hash evidence, run detector plugins, fuse their scores, write a tamper-evident report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is plain: "[default: ...]" must not be eaten as markup, flags not shown as <bool>
)
train_app = typer.Typer(help="Train or calibrate a detector's model from data you provide.", no_args_is_help=True)
app.add_typer(train_app, name="train")
export_app = typer.Typer(help="Export a report folder to an exchange format (CASE/UCO JSON-LD).", no_args_is_help=True)
app.add_typer(export_app, name="export")


def fail(message: str, code: int = 2) -> None:
    """One clear line on standard error (control characters escaped) and exit status ``code``."""
    from forensics.textsafe import safe_text

    typer.echo(f"error: {safe_text(message)}", err=True)
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
    """``(bar, phase callback)``: a progress bar on a terminal; ``(None, None)`` otherwise."""
    from forensics.progress import Progress

    bar = Progress()
    return (bar, bar.callback()) if bar.enabled else (None, None)


@app.command()
def analyze(
    case_dir: Path = typer.Argument(..., help="Folder holding the evidence (searched recursively; never modified)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder [default: ./report-<case folder name>]."),
    examiner: Optional[str] = typer.Option(None, help="Examiner name (overrides case.toml)."),
    case_id: Optional[str] = typer.Option(None, "--case-id", help="Case number (overrides case.toml)."),
    detector: Optional[List[str]] = typer.Option(None, "--detector", "-d", help="Run only this detector (repeatable)."),
    plugin: Optional[List[str]] = typer.Option(None, "--plugin", help="Also load this plugin module (dotted name; repeatable)."),
    max_pixels: int = typer.Option(100_000_000, help="Decompression-bomb limit: images and video frames with more pixels are not decoded."),
    as_json: bool = typer.Option(False, "--json", help="Also print findings.json to standard output."),
    force: bool = typer.Option(False, "--force", help="Replace a previous report of another case in the output folder (only the files its manifest lists are removed)."),
    sign_key: Optional[Path] = typer.Option(None, "--sign-key", help="Ed25519 private key (from `forensics keys create`): write manifest.sha256.sig."),
    seal_log: Optional[Path] = typer.Option(None, "--seal-log", help="Append the manifest's SHA-256 and the run to this JSON Lines file (keep it outside the report folder)."),
    executor: str = typer.Option("local", "--executor", help="Where items are analysed: 'local' (this machine; --workers N processes) or 'ray' (a Ray cluster; pip install 'forensics[ray]')."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes (local) or Ray actors (ray; default there: one per CPU of the cluster)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster to join ('auto', or HOST:PORT of `ray start --head`); default: start a local Ray for this run."),
    resume: bool = typer.Option(False, "--resume", help="Keep per-item results in OUT.cache/ (keyed by evidence SHA-256 and run configuration) and reuse those already there."),
) -> None:
    """Analyse every file in CASE_DIR and write report.html, findings.json, custody.log and manifest.sha256.

    The report folder is published atomically when everything is written. Exit status: 0 done, 2 input
    or usage error, 3 report written but evidence changed during the analysis, 130 interrupted.
    """
    try:
        _analyze(case_dir, out, examiner, case_id, detector, plugin, max_pixels, as_json, force, sign_key, seal_log,
                 run_opts={"executor": executor, "workers": workers, "ray_address": ray_address, "resume": resume})
    except KeyboardInterrupt:
        typer.echo("interrupted: no report folder was published (a hidden .incomplete folder may remain "
                   "only if the process was killed outright)", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _reproduce_command(case_dir: Path, out_dir: Path, examiner, case_id, detector, plugin, max_pixels, sign_key) -> str:
    """The complete ``forensics analyze`` command line of this run, without machine paths (an absolute path is
    shown by its last component; relative paths as given)."""
    import shlex

    from forensics.case import display_name, portable_arg

    def portable(p) -> str:
        return display_name(portable_arg(str(p)))

    args = ["forensics", "analyze", portable(case_dir), "-o", portable(out_dir)]
    if examiner:
        args += ["--examiner", examiner]
    if case_id:
        args += ["--case-id", case_id]
    for d in detector or []:
        args += ["-d", d]
    for p in plugin or []:
        args += ["--plugin", p]
    if max_pixels != 100_000_000:
        args += ["--max-pixels", str(max_pixels)]
    if sign_key:
        args += ["--sign-key", portable(sign_key)]
    return shlex.join(args)


def _analyze(case_dir, out, examiner, case_id, detector, plugin, max_pixels, as_json, force, sign_key, seal_log,
             run_opts: dict | None = None) -> None:
    import hashlib
    import tempfile

    from forensics.case import read_case_info, safe_name
    from forensics.engine import CaseError, analyze_case
    from forensics.report import (
        MANIFEST,
        OutputFolderError,
        append_seal_log,
        check_output_folder,
        findings_json,
        write_outputs,
    )
    from forensics.textsafe import safe_text

    case_dir = Path(os.path.abspath(case_dir))
    if not case_dir.is_dir():
        fail(f"case folder not found: {case_dir}")
    out_dir = Path(os.path.abspath(out or Path.cwd() / f"report-{case_dir.name}"))
    real_case, real_out = os.path.realpath(case_dir), os.path.realpath(out_dir)
    if real_out == real_case or real_out.startswith(real_case + os.sep):
        fail("the output folder must not be inside the case folder (evidence folders are never written to)")
    key = None
    if sign_key is not None:
        from forensics.keys import SigningKeyError, load_private

        try:
            key = load_private(sign_key)
        except SigningKeyError as exc:
            fail(str(exc))
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        try:  # the report is written beside the output folder, then renamed into place
            os.rmdir(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.write-test-"))
        except PermissionError:
            if not out_dir.is_dir():
                raise
            os.rmdir(tempfile.mkdtemp(dir=out_dir, prefix=".write-test-"))  # only the folder itself is writable
    except OSError as exc:
        fail(f"output folder {out_dir} is not writable: {exc.strerror or exc}")
    info = read_case_info(case_dir, case_id=case_id, examiner=examiner)
    try:
        ident = info.to_json()
        check_output_folder(out_dir, ident["root"], info.case_id, force=force, case_root_id=ident["root_id"])
    except OutputFolderError as exc:
        fail(f"{exc}")

    from forensics.executors import ItemCache, make_executor

    ro = run_opts or {}
    name, n_workers = ro.get("executor", "local"), int(ro.get("workers", 1))
    try:  # executor and --resume cache (forensics/executors.py); local with one worker = in this process
        ex = make_executor(name, n_workers, ro.get("ray_address")) if name != "local" or n_workers > 1 else None
    except ValueError as exc:
        fail(str(exc))
    cache_dir = ItemCache.for_output(out_dir) if ro.get("resume") or name == "ray" else None
    prog, cb = _progress_callback()
    try:
        if prog:
            prog.__enter__()
        result = analyze_case(case_dir, out_dir=out_dir, examiner=examiner, case_id=case_id,
                              detectors=detector or None, extra_plugins=plugin or (), max_pixels=max_pixels,
                              progress=cb, executor=ex, cache_dir=cache_dir, resume=bool(ro.get("resume")))
    except (CaseError, KeyError, ValueError, RuntimeError) as exc:
        fail(str(exc).strip("'\""))
    finally:
        if prog:
            prog.__exit__()
    doc = result.document
    doc["run"]["reproduce"] = _reproduce_command(case_dir, out_dir, examiner, case_id, detector, plugin, max_pixels,
                                                 sign_key)
    try:
        manifest = write_outputs(result, out_dir, sign_key=key, force=force)
    except OutputFolderError as exc:
        fail(f"{exc}")
    except OSError as exc:
        fail(f"could not write the report to {out_dir}: {exc.strerror or exc}")
    if as_json:
        sys.stdout.write(findings_json(doc).decode("utf-8"))  # the same strict JSON as findings.json
    s = doc["summary"]
    mhash = hashlib.sha256((out_dir / MANIFEST).read_bytes()).hexdigest()
    if seal_log is not None:
        try:
            append_seal_log(seal_log, {"time": doc["run"]["finished_utc"], "event": "REPORT_SEALED",
                                       "run_id": doc["run"]["id"], "case_id": doc["case"]["case_id"],
                                       "out_dir": safe_name(str(out_dir)), "manifest_sha256": mhash,
                                       "signed": key is not None})
        except OSError as exc:
            fail(f"report written, but the seal log {seal_log} could not be appended: {exc.strerror or exc}")
    echo = (lambda m: typer.echo(safe_text(m), err=True)) if as_json else (lambda m: typer.echo(safe_text(m)))
    echo(f"Analysed {s['items']} file(s), {s['media_items']} image/video: "
         + ", ".join(f"{v} {k}" for k, v in s["verdict_counts"].items()))
    if s["integrity_failures"]:
        echo(f"INTEGRITY FAILURE on: {', '.join(s['integrity_failures'])}")
    for p in doc["plugin_problems"]:
        echo(f"plugin problem: {p['plugin']}: {p['message']}")
    echo(f"Report:   {out_dir / 'report.html'}")
    echo(f"Findings: {out_dir / 'findings.json'} ({len(manifest)} files in {MANIFEST})")
    echo(f"Manifest SHA-256: {mhash}" + ("  (signed: manifest.sha256.sig)" if key is not None else ""))
    echo("Keep this value outside the report folder; `forensics verify DIR --manifest-sha256 <value>` checks it.")
    if s["integrity_failures"]:
        raise typer.Exit(EXIT_INTEGRITY)


@app.command()
def verify(
    out_dir: Path = typer.Argument(..., help="A report folder written by `forensics analyze`."),
    case: Optional[Path] = typer.Option(None, "--case", help="Also re-hash the evidence in this case folder."),
    manifest_sha256: Optional[str] = typer.Option(None, "--manifest-sha256", help="The manifest SHA-256 that `analyze` printed: proves the manifest was not regenerated."),
    public_key: Optional[Path] = typer.Option(None, "--public-key", help="Ed25519 public key: check manifest.sha256.sig."),
) -> None:
    """Re-check a report's files against manifest.sha256 and, with --case, the evidence against its hashes.

    Exit status: 0 everything matched, 1 a mismatch, 2 usage error, 4 nothing mismatched but some
    items could not be verified.
    """
    from forensics.textsafe import safe_text
    from forensics.verify import verify as run_verify

    if not out_dir.is_dir():
        fail(f"report folder not found: {out_dir}")
    if case is not None and not case.is_dir():
        fail(f"case folder not found: {case}")
    if manifest_sha256 is not None and not (len(manifest_sha256.strip()) == 64
                                            and all(c in "0123456789abcdefABCDEF" for c in manifest_sha256.strip())):
        fail("--manifest-sha256 must be 64 hexadecimal digits")
    res = run_verify(out_dir, case, manifest_sha256=manifest_sha256, public_key=public_key)
    for line in res.ok:
        typer.echo(f"OK          {safe_text(line)}")
    for line in res.unverified:
        typer.echo(f"UNVERIFIED  {safe_text(line)}")
    for line in res.problems:
        typer.echo(f"MISMATCH    {safe_text(line)}")
    typer.echo(f"seal: {res.seal}")
    if not res.passed:
        typer.echo(f"verification FAILED: {len(res.problems)} problem(s)")
        raise typer.Exit(EXIT_MISMATCH)
    if res.unverified:
        typer.echo(f"verification INCOMPLETE: nothing mismatched, {len(res.unverified)} item(s) could not be verified")
        raise typer.Exit(EXIT_INCOMPLETE)
    typer.echo("verification passed")
    raise typer.Exit(EXIT_OK)


keys_app = typer.Typer(help="Ed25519 keys for signing report manifests.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(directory: Path = typer.Argument(..., help="Folder for forensics-signing.key (private, mode 0600) and forensics-signing.pub."),
                overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing key files.")) -> None:
    """Create an Ed25519 key pair: sign with `analyze --sign-key KEY`, check with `verify --public-key PUB`."""
    from forensics.keys import SigningKeyError, create_keys

    try:
        priv, pub, fp = create_keys(directory, overwrite=overwrite)
    except SigningKeyError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write keys to {directory}: {exc.strerror or exc}")
    typer.echo(f"private key: {priv} (keep it secret)")
    typer.echo(f"public key:  {pub}")
    typer.echo(f"fingerprint: {fp}")


@app.command()
def plugins(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List the loaded detector plugins, their versions, sources and model status."""
    from forensics.plugins import load_plugins
    from forensics.textsafe import safe_text

    ps = load_plugins()
    rows = ps.describe()
    if as_json:
        typer.echo(json.dumps({"detectors": rows, "problems": [p.__dict__ for p in ps.problems]}, indent=2))
        return
    _print_plugins(ps, rows, lambda m: typer.echo(safe_text(m)))  # plugin-supplied text: no terminal controls


def _print_plugins(ps, rows, say) -> None:
    for r in rows:
        m = r["model"]
        say(f"{r['name']} {r['version']}  [{', '.join(r['media_kinds'])}]  from {r['source']}")
        model_line = m["status"]
        if "files" in m:
            model_line += "; " + ", ".join(f"{f['path']} sha256 {f['sha256'][:16]}…" for f in m["files"].values())
        if m.get("reason"):
            model_line += f": {m['reason']}"
        say(f"    model: {model_line}")
    for p in ps.problems:
        say(f"BROKEN {p.plugin}: {p.message}")
    if not rows:
        say("no detectors loaded")


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
    from forensics.repro import training_command

    command = training_command()  # the one builder: every option kept, no machine paths
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
            prog.__enter__()
        return run_dataset(data, detectors=detector or None, max_per_class=max_per_class, seed=seed, progress=cb)
    except DatasetError as exc:
        fail(str(exc))
    except KeyError as exc:
        fail(str(exc).strip("'\""))
    finally:
        if prog:
            prog.__exit__()


@app.command()
def evaluate(
    data: List[Path] = typer.Option(..., "--data", help="Labelled data: real/ + fake/ folders, FaceForensics++, Celeb-DF or DFDC layout (repeatable)."),
    detector: Optional[List[str]] = typer.Option(None, "--detector", "--detectors", "-d", help="Evaluate only these detectors (repeatable) [default: all]."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for results.json and roc.png [default: ./evaluation]."),
    max_per_class: Optional[int] = typer.Option(None, help="Evaluate at most this many files per label and folder (seeded subset)."),
    threshold: float = typer.Option(0.5, help="Decision threshold on P(manipulated) for accuracy and the confusion matrix."),
    seed: int = typer.Option(0, help="Seed for --max-per-class subsets."),
    group_by: Optional[str] = typer.Option(None, "--group-by", help="'source': metrics per data folder and a "
                                           "leave-one-source-out fusion figure."),
) -> None:
    """Run detectors over labelled data; print AUC (with interval), EER, accuracy, confusion matrix and ECE per
    detector and fused; write results.json, roc.png and reliability.png (calibration)."""
    from forensics.evaluate import format_table, reliability_figure, roc_figure, summarise
    from forensics.plots import figure_artifact
    from forensics.report import atomic_write

    for d in data:
        if not d.is_dir():
            fail(f"data folder not found: {d}")
    out_dir = Path(os.path.abspath(out or Path.cwd() / "evaluation"))
    if group_by not in (None, "source"):
        fail("--group-by must be 'source'")
    res = _run_with_progress(data, detector, max_per_class, seed)
    summary = summarise(res, threshold, group_by=group_by)
    res["summary"] = summary
    from forensics.repro import training_command

    res["command"] = training_command()  # portable: data folders as $DATA/..., every option kept
    for line in format_table(summary):
        typer.echo(line)
    try:
        atomic_write(out_dir / "results.json", (json.dumps(res, indent=1, sort_keys=True) + "\n").encode("utf-8"))
        fig = roc_figure(summary, title=", ".join(str(d) for d in data)[-80:])
        atomic_write(out_dir / "roc.png", figure_artifact(fig, "ROC").png)
        import numpy as np

        fused = [(r["label"], r["fused"]["probability"]) for r in res["rows"]
                 if (r.get("fused") or {}).get("probability") is not None]
        if fused:
            rel = reliability_figure(np.array([a for a, _ in fused]), np.array([b for _, b in fused]), "fused")
            atomic_write(out_dir / "reliability.png", figure_artifact(rel, "reliability").png)
    except OSError as exc:
        fail(f"could not write results to {out_dir}: {exc.strerror or exc}")
    typer.echo(f"Results: {out_dir / 'results.json'}; ROC plot: {out_dir / 'roc.png'}; reliability diagram: "
               f"{out_dir / 'reliability.png'}")


@app.command()
def demo(out: Path = typer.Option(Path("cases/demo"), help="Folder to (re)generate the demo case in.")) -> None:
    """(Re)generate the small demo case from media the installed packages ship."""
    from forensics.demo import make_demo_case

    for line in make_demo_case(out):
        typer.echo(line)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on. Anything but loopback is reachable from other machines."),
    port: int = typer.Option(8765, help="Port to listen on."),
    cases: Path = typer.Option(Path("cases"), "--cases", help="Folder of case folders (created if missing)."),
    workers: int = typer.Option(1, help="Analyses that may run at once (always one at a time per case)."),
    max_upload_mb: int = typer.Option(4096, help="Largest file accepted per upload, in MiB (larger: HTTP 413)."),
    max_files: int = typer.Option(200, help="Most files accepted in one upload (more: HTTP 413)."),
    detector: Optional[List[str]] = typer.Option(None, "--detector", "-d", help="Run only this detector in every analysis (repeatable)."),
) -> None:
    """Run the local web app: cases, uploads, live progress, the court report, comparison, verification.

    Prints an address with a one-time token (or uses FORENSICS_TOKEN); every request needs it.
    """
    import uvicorn

    from forensics.web.app import create_app
    from forensics.web.security import is_loopback, new_token
    from forensics.web.store import Limits

    token = os.environ.get("FORENSICS_TOKEN") or new_token()
    if len(token) < 16:
        fail("FORENSICS_TOKEN must be at least 16 characters long")
    if not is_loopback(host):
        typer.echo(f"warning: --host {host} is reachable from other machines; anyone who learns the token can read "
                   "and add evidence (plain HTTP, no TLS). Prefer 127.0.0.1 and an SSH tunnel.", err=True)
    limits = Limits(max_file_bytes=max_upload_mb << 20, max_files=max_files,
                    max_request_bytes=max(max_upload_mb << 20, 1) * max(1, max_files))
    try:
        web = create_app(cases, token, limits=limits, workers=workers, detectors=detector or None,
                         cookie_name=f"forensics_session_{port}")
    except OSError as exc:
        fail(f"cases folder {cases} cannot be used: {exc.strerror or exc}")
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"forensics serve {__version__}: cases in {Path(os.path.abspath(cases))}")
    if os.environ.get("FORENSICS_TOKEN"):
        typer.echo(f"Open http://{shown}:{port}/?token=<the token in FORENSICS_TOKEN>")
    else:
        typer.echo(f"Open http://{shown}:{port}/?token={token}")
    typer.echo("API: the same token as `Authorization: Bearer <token>`; documentation at /docs. Ctrl-C stops.")
    # Open live-progress streams must not hold up Ctrl-C; running analyses stop with the server (marked failed).
    uvicorn.run(web, host=host, port=port, log_level="warning", server_header=False, timeout_graceful_shutdown=3)


@export_app.command("case-uco")
def export_case_uco(
    report_dir: Path = typer.Argument(..., help="A report folder written by `forensics analyze`."),
    out: Path = typer.Option(..., "--out", "-o", help="JSON-LD file to write (e.g. case.jsonld)."),
) -> None:
    """Write the case, evidence hashes, tool and detector versions and every analysis result as CASE/UCO JSON-LD."""
    from forensics.caseuco import export_case_uco as run_export

    if not (report_dir / "findings.json").is_file():
        fail(f"not a report folder (no findings.json): {report_dir}")
    try:
        n = run_export(report_dir, out)
    except (OSError, ValueError, KeyError) as exc:
        fail(f"could not export {report_dir}: {exc}")
    typer.echo(f"CASE/UCO JSON-LD: {out} ({n} triples); check it with `case_validate {out}`")


def _register_plugin_commands() -> None:
    """Let every plugin add its commands (``forensics train <detector>`` and others) through the hook."""
    from forensics.plugins import load_plugins, register_commands

    global PLUGINS
    PLUGINS = load_plugins()
    register_commands(PLUGINS, app, train_app)


PLUGINS = None
_register_plugin_commands()


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
