"""Analyses for the web app: each one runs in its own worker process, one at a time per case.

:func:`run_analysis` is the ONE place the web app calls the engine and writes the report folder; everything else
here is scheduling. A worker process is forked from a small, clean fork server (``multiprocessing``'s
``forkserver``, with the engine pre-imported), never from the server itself, so a detector that crashes the
interpreter (a segmentation fault in native code, the kernel's out-of-memory killer) fails that analysis only:
the server records "failed: worker process ended by signal N" and carries on. Progress travels back over a
pipe as ``(phase, done, total, label)`` events plus one event per detector per file.

As in every program that starts ``multiprocessing`` workers this way, a script that builds the app itself
(``create_app``) must keep its start-up under ``if __name__ == "__main__":`` (the worker imports the main module).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import secrets
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from forensics.case import utc_now

ANALYSIS_ID_PREFIX = "a"
PHASES = ("hashing", "analysing", "re-verifying", "writing")


# ============================================================================ the one call into the engine
def run_analysis(case_dir: Path, out_dir: Path, examiner: str | None = None, case_id: str | None = None,
                 detectors: Iterable[str] | None = None, extra_plugins: Iterable[Any] = (),
                 progress: Callable[[str, int, int, str], None] | None = None,
                 on_detector: Callable[[str, str, str], None] | None = None) -> dict[str, Any]:
    """Analyse ``case_dir`` and write the report folder ``out_dir``; return a short summary.

    ``progress(phase, done, total, label)`` is the engine's callback; ``on_detector(file, detector, state)`` is
    called when a detector starts (``running``) and ends (its finding's status) on a file. This is the single
    function to adapt when the engine or the way outputs are published changes.
    """
    from forensics.engine import analyze_case
    from forensics.plugins import load_plugins
    from forensics.report import MANIFEST, write_outputs

    progress = progress or (lambda *a: None)
    ps = load_plugins(extra=extra_plugins)
    if on_detector is not None:
        _watch_detectors(ps, on_detector)
    result = analyze_case(case_dir, out_dir=out_dir, examiner=examiner, case_id=case_id,
                          detectors=list(detectors) if detectors else None, plugins=ps, progress=progress)
    progress("writing", 0, 1, "report")
    manifest = write_outputs(result, out_dir)
    progress("writing", 1, 1, "")
    import hashlib

    doc = result.document
    return {"summary": doc["summary"], "files_in_manifest": len(manifest),
            "manifest_sha256": hashlib.sha256((out_dir / MANIFEST).read_bytes()).hexdigest(),
            "run_id": doc["run"]["id"]}


def _watch_detectors(ps: Any, on_detector: Callable[[str, str, str], None]) -> None:
    """Report each detector's start and end per file (wraps the loaded instances of this worker only)."""
    for ld in ps.detectors:
        det = ld.detector
        orig_analyze, orig_na = det.analyze, det.not_applicable_reason

        def analyze(item, media, _orig=orig_analyze, _name=det.name):
            on_detector(item.relpath, _name, "running")
            try:
                finding = _orig(item, media)
            except BaseException as exc:
                from forensics.faces import NoFaceError
                from forensics.models import ModelUnavailable

                state = ("not_applicable" if isinstance(exc, NoFaceError)
                         else "unavailable" if isinstance(exc, ModelUnavailable) else "failed")
                on_detector(item.relpath, _name, state)
                raise
            on_detector(item.relpath, _name, getattr(getattr(finding, "status", None), "value", "failed"))
            return finding

        def not_applicable_reason(item, _orig=orig_na, _name=det.name):
            reason = _orig(item)
            if reason:
                on_detector(item.relpath, _name, "not_applicable")
            return reason

        det.analyze = analyze
        det.not_applicable_reason = not_applicable_reason


def _worker_main(spec: dict[str, Any], conn: Any) -> None:
    """Entry point of a worker process: run the analysis, send events, never raise."""
    try:
        res = run_analysis(
            Path(spec["case_dir"]), Path(spec["out_dir"]), examiner=spec.get("examiner") or None,
            case_id=spec.get("case_number") or None, detectors=spec.get("detectors") or None,
            extra_plugins=spec.get("extra_plugins") or (),
            progress=lambda phase, done, total, label: conn.send(("progress", phase, done, total, label)),
            on_detector=lambda f, d, s: conn.send(("detector", f, d, s)))
        conn.send(("done", res))
    except BaseException as exc:  # noqa: BLE001 - reported as this analysis failing, nothing more
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else ""
        conn.send(("error", f"{type(exc).__name__}: {exc}{where}"))
    finally:
        conn.close()


# ============================================================================ jobs
@dataclass
class Job:
    id: str
    case_id: str
    source: str
    spec: dict[str, Any]
    status: str = "queued"  # queued | running | done | failed
    created_utc: str = field(default_factory=utc_now)
    started_utc: str | None = None
    finished_utc: str | None = None
    error: str | None = None
    result: dict[str, Any] | None = None
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)
    current: dict[str, Any] = field(default_factory=dict)
    files: dict[str, dict[str, str]] = field(default_factory=dict)  # file -> {detector: state}
    version: int = 0

    def progress(self) -> dict[str, Any]:
        return {"phases": {p: self.phases[p] for p in PHASES if p in self.phases}, "current": self.current,
                "files": [{"file": f, "detectors": d} for f, d in self.files.items()]}

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "case_id": self.case_id, "source": self.source, "status": self.status,
                "created_utc": self.created_utc, "started_utc": self.started_utc,
                "finished_utc": self.finished_utc, "error": self.error, "result": self.result,
                "detectors": self.spec.get("detectors"), "progress": self.progress()}


class JobManager:
    """Queue and run analyses: at most ``workers`` at once overall, one at a time per case."""

    def __init__(self, state_root: Path, workers: int = 1) -> None:
        self.root = Path(state_root) / "analyses"
        self.root.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="forensics-analysis")
        self._lock = threading.Condition()
        self._jobs: dict[str, Job] = {}
        self._busy_cases: set[str] = set()
        self._waiting: dict[str, list[Job]] = {}
        self._procs: dict[str, Any] = {}  # job id -> its running worker process
        self._cancelled: set[str] = set()
        self._ctx = _context()
        self._load()

    # ---------------------------------------------------------------- persistence
    def _load(self) -> None:
        for d in sorted(self.root.iterdir()):
            p = d / "job.json"
            if not p.is_file():
                continue
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
            except ValueError:
                continue
            job = Job(id=data["id"], case_id=data["case_id"], source=data.get("source", "uploads"),
                      spec=data.get("spec", {}), status=data["status"], created_utc=data.get("created_utc", ""),
                      started_utc=data.get("started_utc"), finished_utc=data.get("finished_utc"),
                      error=data.get("error"), result=data.get("result"))
            job.phases = data.get("progress", {}).get("phases", {})
            job.files = {f["file"]: f["detectors"] for f in data.get("progress", {}).get("files", [])}
            if job.status in ("queued", "running"):
                job.status, job.error = "failed", "the server stopped before this analysis finished"
                self._save(job)
            self._jobs[job.id] = job

    def _save(self, job: Job) -> None:
        d = self.root / job.id
        d.mkdir(parents=True, exist_ok=True)
        data = {**job.to_json(), "spec": job.spec}
        tmp = d / "job.json.tmp"
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        os.replace(tmp, d / "job.json")

    def report_dir(self, job_id: str) -> Path:
        return self.root / job_id / "report"

    # ---------------------------------------------------------------- queries
    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def for_case(self, case_id: str) -> list[Job]:
        with self._lock:
            return sorted((j for j in self._jobs.values() if j.case_id == case_id),
                          key=lambda j: j.created_utc, reverse=True)

    def wait(self, job_id: str, version: int, timeout: float) -> Job | None:
        """Block until the job changes past ``version`` (or ``timeout`` seconds)."""
        with self._lock:
            self._lock.wait_for(lambda: self._jobs[job_id].version != version, timeout=timeout)
            return self._jobs.get(job_id)

    # ---------------------------------------------------------------- submit / run
    def submit(self, case_id: str, case_dir: Path, source: str, examiner: str = "", case_number: str = "",
               detectors: list[str] | None = None, extra_plugins: Iterable[str] = ()) -> Job:
        job_id = ANALYSIS_ID_PREFIX + secrets.token_hex(8)
        spec = {"case_dir": str(case_dir), "out_dir": str(self.report_dir(job_id)), "examiner": examiner,
                "case_number": case_number, "detectors": list(detectors) if detectors else None,
                "extra_plugins": list(extra_plugins)}
        job = Job(id=job_id, case_id=case_id, source=source, spec=spec)
        with self._lock:
            self._jobs[job_id] = job
            self._save(job)
            if case_id in self._busy_cases:
                self._waiting.setdefault(case_id, []).append(job)
            else:
                self._busy_cases.add(case_id)
                self._pool.submit(self._run, job)
        return job

    def _update(self, job: Job, **changes: Any) -> None:
        with self._lock:
            for k, v in changes.items():
                setattr(job, k, v)
            job.version += 1
            self._lock.notify_all()

    def _event(self, job: Job, ev: tuple) -> None:
        with self._lock:
            if ev[0] == "progress":
                _, phase, done, total, label = ev
                job.phases[phase] = {"done": done, "total": total}
                job.current = {"phase": phase, "done": done, "total": total, "label": label}
                if phase in ("hashing", "analysing") and label:
                    job.files.setdefault(label, {})
            elif ev[0] == "detector":
                _, f, det, state = ev
                job.files.setdefault(f, {})[det] = state
            job.version += 1
            self._lock.notify_all()

    def _run(self, job: Job) -> None:
        try:
            self._update(job, status="running", started_utc=utc_now())
            self._save(job)
            status, error, result = self._run_process(job)
            self._update(job, status=status, error=error, result=result, finished_utc=utc_now())
            self._save(job)
        except BaseException as exc:  # noqa: BLE001 - the scheduler itself must survive anything
            self._update(job, status="failed", error=f"{type(exc).__name__}: {exc}", finished_utc=utc_now())
            try:
                self._save(job)
            except OSError:
                pass
        finally:
            with self._lock:
                nxt = self._waiting.get(job.case_id, [])
                if nxt:
                    self._pool.submit(self._run, nxt.pop(0))
                else:
                    self._busy_cases.discard(job.case_id)
                self._lock.notify_all()

    def _run_process(self, job: Job) -> tuple[str, str | None, dict | None]:
        # A pipe, not a queue: each event is written before the worker goes on, so what it reported last before
        # a crash (the detector it was running) still arrives.
        reader, writer = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=_worker_main, args=(job.spec, writer), name=f"forensics-{job.id}",
                                 daemon=True)
        with self._lock:
            if job.id in self._cancelled:
                return "failed", "cancelled by the user before it started", None
            proc.start()
            self._procs[job.id] = proc
        writer.close()
        outcome: tuple[str, str | None, dict | None] | None = None
        try:
            while outcome is None:
                if not reader.poll(0.5):
                    if not proc.is_alive() and not reader.poll(0.5):
                        break
                    continue
                try:
                    ev = reader.recv()
                except (EOFError, OSError):
                    break
                outcome = self._handle(job, ev)
        finally:
            reader.close()
            with self._lock:
                self._procs.pop(job.id, None)
        proc.join(timeout=30)
        if outcome is None and job.id in self._cancelled:
            outcome = ("failed", "cancelled by the user (the worker process was stopped)", None)
        if outcome is None:
            code = proc.exitcode
            why = f"ended by signal {-code}" if code is not None and code < 0 else f"exited with status {code}"
            outcome = ("failed", f"the worker process {why} before the analysis finished (the server is unaffected)",
                       None)
        return outcome

    def _handle(self, job: Job, ev: tuple) -> tuple[str, str | None, dict | None] | None:
        if ev[0] == "done":
            return "done", None, ev[1]
        if ev[0] == "error":
            return "failed", ev[1], None
        self._event(job, ev)
        return None

    def cancel(self, job_id: str) -> bool:
        """Stop a queued or running analysis (it ends as ``failed``, saying so); ``False`` if it had ended."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status in ("done", "failed"):
                return False
            self._cancelled.add(job_id)
            waiting = self._waiting.get(job.case_id, [])
            if job in waiting:
                waiting.remove(job)
                job.status, job.error, job.finished_utc = "failed", "cancelled by the user before it started", utc_now()
                job.version += 1
                self._save(job)
                self._lock.notify_all()
                return True
            proc = self._procs.get(job_id)
        if proc is not None:
            proc.kill()
        return True

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _context():
    """A ``forkserver`` context with the engine pre-imported (``spawn`` where fork servers do not exist)."""
    try:
        ctx = mp.get_context("forkserver")
    except ValueError:  # pragma: no cover - platforms without fork
        return mp.get_context("spawn")
    ctx.set_forkserver_preload(["forensics.web.jobs", "forensics.engine", "forensics.report"])
    return ctx

