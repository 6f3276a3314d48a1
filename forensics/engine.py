"""Run a case end to end: intake -> detectors -> fusion -> findings document.

Three steps with one job each: :func:`intake` (scan, hash, classify), :func:`analyze_item` (the pure
per-item step shared by ``forensics evaluate`` and any executor) and :func:`assemble_document`
(fusion and the findings document); :func:`analyze_case` runs them in order.

Data flows one way (see DESIGN.md). Detector failures become findings; a bad
file becomes a message on its item; nothing here aborts the case except a
missing case folder.
"""

from __future__ import annotations

import os
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from forensics import FINDINGS_SCHEMA, __version__, fusion, timeline
from forensics.case import (
    BINDING_GUARANTEE,
    CustodyLog,
    EvidenceItem,
    environment,
    hash_item,
    read_case_info,
    safe_name,
    scan_case,
    utc_now,
)
from forensics.detector import Artifact, Finding, Status
from forensics.faces import NoFaceError
from forensics.media import DEFAULT_MAX_PIXELS, MediaAccess, MediaError, NoVideoStream
from forensics.models import ModelUnavailable
from forensics.plugins import LoadedDetector, PluginSet, load_plugins

Progress = Callable[[str, int, int, str], None]  # (phase, done, total, label)


class CaseError(Exception):
    """The case cannot be analysed at all (missing folder and the like)."""


@dataclass
class AnalysisResult:
    document: dict[str, Any]
    artifacts: dict[str, bytes] = field(default_factory=dict)  # relative file name -> PNG bytes
    custody: CustodyLog = field(default_factory=CustodyLog)


def run_detector(ld: LoadedDetector, item: EvidenceItem, media: MediaAccess) -> Finding:
    """Run one detector on one item; never raises."""
    det = ld.detector
    try:
        reason = det.not_applicable_reason(item)
        if reason:
            return det.not_applicable(reason)
        finding = det.analyze(item, media)
        if not isinstance(finding, Finding):
            return det.failed(f"plugin '{ld.plugin}' returned {type(finding).__name__}, not a Finding")
        return finding
    except NoFaceError as exc:  # a face detector on an item without faces: not applicable, not a failure
        return det.not_applicable(str(exc))
    except ModelUnavailable as exc:  # weights missing or altered: the detector says so and does not vote
        return det.unavailable(str(exc))
    except MediaError as exc:
        return det.failed(f"media could not be decoded: {exc}")
    except MemoryError:
        return det.failed(f"plugin '{ld.plugin}' ran out of memory")
    except Exception as exc:  # noqa: BLE001 - a plugin must never stop the case
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else ""
        return det.failed(f"plugin '{ld.plugin}' raised {type(exc).__name__}: {exc}{where}")


def _artifact_name(item_id: str, detector: str, index: int, art: Artifact) -> str:
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in art.slug)[:40] or "artifact"
    det = "".join(c if c.isalnum() or c in "-_" else "-" for c in detector)[:40]
    return f"artifacts/{item_id}-{det}-{index:02d}-{slug}.png"


@dataclass
class ItemResult:
    """What analysing one evidence item produced: the pure, per-item step's output.

    Built by :func:`analyze_item` from the item and the loaded detectors alone, so the same step runs
    in-process, in a worker pool or on a cluster; only the coordinator writes custody events
    (``events``) into the log and assembles the document.
    """

    item_id: str
    findings: list[Finding] = field(default_factory=list)
    artifacts: dict[str, bytes] = field(default_factory=dict)  # relative file name -> PNG bytes
    artifact_files: dict[str, dict[int, str]] = field(default_factory=dict)  # detector -> {index: file name}
    messages: list[str] = field(default_factory=list)  # per-file messages to add to the item
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # custody events (what, fields)
    decoded: bool = True  # False when the header probe failed: nothing was analysed
    decode: dict[str, Any] | None = None  # video: frames decoded vs expected, decode errors (MediaAccess.decode_report)
    coverage: dict[str, Any] | None = None  # video: which seconds were analysed, gaps (forensics.timeline.for_item)
    timeline: list[dict[str, Any]] = field(default_factory=list)  # video: per-segment fused probabilities
    timeline_artifacts: list[dict[str, Any]] = field(default_factory=list)  # title, caption, sha256, file


def analyze_item(item: EvidenceItem, selected: list[LoadedDetector], max_pixels: int = DEFAULT_MAX_PIXELS,
                 media: MediaAccess | None = None) -> ItemResult:
    """Run every selected detector on one media item (item + models -> findings + artifacts); never raises.

    A cheap header probe runs first: decompression bombs and undecodable containers are reported once
    here, and every detector then gets the same "failed: media could not be decoded" finding (or "not
    applicable" where it would not have applied anyway).
    """
    res = ItemResult(item.id)
    media = media or MediaAccess(item, max_pixels=max_pixels)
    n_messages = len(item.messages)
    try:
        if item.kind == "image":
            media.image_info()
        else:
            media.video_info()
    except NoVideoStream as exc:  # audio only: video detectors do not apply; nothing failed
        res.decoded = False
        res.messages.append(f"{exc}: no video detector applies")
        res.events.append(("NO_VIDEO_STREAM", {"item": item.id, "reason": str(exc)}))
        res.findings = [ld.detector.not_applicable(ld.detector.not_applicable_reason(item) or str(exc))
                        for ld in selected]
        return res
    except MediaError as exc:
        res.decoded = False
        res.messages.append(f"cannot be decoded: {exc}")
        res.events.append(("UNDECODABLE", {"item": item.id, "reason": str(exc)}))
        res.findings = [
            ld.detector.not_applicable(reason) if (reason := ld.detector.not_applicable_reason(item))
            else ld.detector.failed(f"media could not be decoded: {exc}")
            for ld in selected
        ]
        return res
    for ld in selected:
        t0 = time.perf_counter()
        f = run_detector(ld, item, media)
        res.events.append(("DETECTOR_RAN", {"item": item.id, "detector": f.detector, "status": f.status.value,
                                            "seconds": f"{time.perf_counter() - t0:.3f}"}))
        if f.status is Status.FAILED and f.reason.startswith("media could not be decoded"):
            if f.reason not in res.messages and f.reason not in item.messages:
                res.messages.append(f.reason)
        files = {}
        for k, art in enumerate(f.artifacts):
            name = _artifact_name(item.id, f.detector, k, art)
            res.artifacts[name] = art.png
            files[k] = name
        res.artifact_files[f.detector] = files
        if isinstance(f.model, dict) and ld.detector.model_name:
            origin = model_origin(ld)
            if origin:
                f.model = {**f.model, **origin}
        res.findings.append(f)
    if item.kind == "video":
        _add_timeline(res, item, media)
        try:
            res.decode = media.decode_report()
        except MediaError as exc:
            res.decode = {"partial": True, "first_error": str(exc), "frames_decoded": None, "decode_errors": None,
                          "frames_expected": None}
        d = res.decode
        res.events.append(("DECODE", {"item": item.id, **{k: d.get(k) for k in (
            "frames_decoded", "frames_expected", "decode_errors", "partial")}}))
        if d.get("partial"):
            res.messages.append(
                f"PARTIAL DECODE: {d.get('frames_decoded')} of {d.get('frames_expected') or 'an unknown number of'} "
                f"frames could be decoded ({d.get('decode_errors')} packet(s) failed"
                + (f"; first error: {d['first_error']}" if d.get("first_error") else "")
                + "); the findings rest on the decodable part only")
    res.messages.extend(m for m in item.messages[n_messages:] if m not in res.messages)
    return res


def _add_timeline(res: ItemResult, item: EvidenceItem, media: MediaAccess) -> None:
    """Coverage, per-segment timeline and its figures (:mod:`forensics.timeline`); a failure is a message."""
    try:
        res.coverage, res.timeline, arts = timeline.for_item(media, res.findings)
    except Exception as exc:  # noqa: BLE001 - the timeline must never stop the item
        res.messages.append(f"timeline could not be built: {type(exc).__name__}: {exc}")
        return
    for k, art in enumerate(arts):
        name = _artifact_name(item.id, "timeline", k, art)
        res.artifacts[name] = art.png
        res.timeline_artifacts.append({"title": art.title, "caption": art.caption, "sha256": art.sha256,
                                       "file": name})


def model_origin(ld: LoadedDetector) -> dict[str, Any] | None:
    """Where a detector's model was loaded from: ``origin`` (built-in / FORENSICS_MODELS_PATH) and ``folder``."""
    try:
        card = ld.detector.model_card()
    except ModelUnavailable:
        return None
    if card is None:
        return None
    folder = f"models/{card.name}" if card.builtin else safe_name(str(card.directory))
    return {"origin": card.origin, "builtin": card.builtin, "folder": folder}


def intake(case_dir: Path, out_dir: Path | None, custody: CustodyLog, progress: Progress) -> list[EvidenceItem]:
    """Scan the case folder, hash and classify every file (custody events ``HASHED`` / ``NOT_HASHED``)."""
    items = scan_case(case_dir, exclude=[out_dir] if out_dir else None)
    for i, it in enumerate(items):
        progress("hashing", i, len(items), it.relpath)
        hash_item(it)
        if it.hashes:
            custody.event("HASHED", item=it.id, path=it.relpath, path_bytes_hex=os.fsencode(it.relpath_raw).hex(),
                          size=it.hashes.size, sha256=it.hashes.sha256, sha1=it.hashes.sha1, md5=it.hashes.md5,
                          kind=it.kind, format=it.format, identity=it.identity.as_dict() if it.identity else None,
                          hidden_characters=it.hidden_characters)
        else:
            custody.event("NOT_HASHED", item=it.id, path=it.relpath, reason="; ".join(it.messages))
    progress("hashing", len(items), len(items), "")
    return items


def reverify(items: list[EvidenceItem], custody: CustodyLog, progress: Progress) -> None:
    """Re-hash every item after analysis (custody event ``REVERIFIED``); a change is an integrity failure."""
    for i, it in enumerate(items):
        progress("re-verifying", i, len(items), it.relpath)
        if it.hashes:
            hash_item(it, after=True)
            custody.event("REVERIFIED", item=it.id, integrity=it.integrity,
                          sha256=it.hashes_after.sha256 if it.hashes_after else "",
                          identity_unchanged=bool(it.identity and it.identity_after
                                                  and not it.identity.differences(it.identity_after)),
                          decoder_identity_checks=it.binding_checks, binding_problems=list(it.binding_problems))
    progress("re-verifying", len(items), len(items), "")


def assemble_document(info: Any, ps: PluginSet, selected: list[LoadedDetector], items: list[EvidenceItem],
                      results: dict[str, ItemResult], env: dict[str, str], run_id: str, started: str,
                      finished: str) -> dict[str, Any]:
    """The findings document (``findings.json``): items with findings and fused verdicts, and the case summary."""
    item_docs = []
    for it in items:
        doc = it.to_json()
        r = results.get(it.id)
        if r is not None:
            doc["findings"] = [f.to_json(r.artifact_files.get(f.detector)) for f in r.findings]
            doc["verdict"] = fusion.fuse(r.findings, kind=it.kind)
            if r.coverage is not None:  # video: whole-duration coverage, per-segment timeline, segment rule
                doc["coverage"], doc["timeline"] = r.coverage, r.timeline
                doc["timeline_artifacts"] = r.timeline_artifacts
                timeline.apply_to_verdict(doc["verdict"], r.timeline)
            if r.decode is not None:
                doc["decode"] = r.decode
                if r.decode.get("partial") and doc["verdict"]:
                    doc["verdict"]["caveat"] = (
                        f"based on a PARTIAL decode ({r.decode.get('frames_decoded')} of "
                        f"{r.decode.get('frames_expected') or '?'} frames); the undecodable part was not analysed")
        else:
            doc["findings"] = []
            doc["verdict"] = None
        item_docs.append(doc)
    names = {ld.detector.name for ld in selected}
    return {
        "schema": FINDINGS_SCHEMA,
        "tool": {"name": "forensics", "version": __version__, "python": env["python"], "platform": env["platform"],
                 "packages": _package_versions()},
        "run": {"id": run_id, "started_utc": started, "finished_utc": finished, "host": env["host"],
                "user": env["user"], "command_line": env["command_line"]},
        "case": info.to_json(),
        "detectors": _with_model_origin([d for d in ps.describe() if d["name"] in names], selected),
        "plugin_problems": [{"plugin": p.plugin, "message": p.message} for p in ps.problems],
        "fusion": fusion.describe(),
        "timeline": timeline.describe(),
        "items": item_docs,
        "summary": fusion.summarise(item_docs),
    }


_EXTRA_METRICS = ("auc_ci95", "balanced_accuracy", "tpr", "fpr", "n_test_positive", "n_test_negative", "threshold")


def _with_model_origin(rows: list[dict[str, Any]], selected: list[LoadedDetector]) -> list[dict[str, Any]]:
    """Add each model's origin and folder, and the card's balanced accuracy / TPR / FPR / AUC interval."""
    by_name = {ld.detector.name: ld for ld in selected}
    for row in rows:
        ld = by_name.get(row["name"])
        model = row.get("model") or {}
        if ld is None or "files" not in model:
            continue
        origin = model_origin(ld)
        if origin:
            model.update(origin)
            if not origin["builtin"]:
                model["status"] += f"; NOT the built-in model: loaded from {origin['folder']} (FORENSICS_MODELS_PATH)"
        card = ld.detector.model_card()
        er = model.get("error_rate")
        if card is not None and isinstance(er, dict):
            for k in _EXTRA_METRICS:
                if k in card.metrics and k not in er:
                    er[k] = card.metrics[k]
    return rows


def analyze_case(
    case_dir: Path,
    out_dir: Path | None = None,
    examiner: str | None = None,
    case_id: str | None = None,
    detectors: Iterable[str] | None = None,
    plugins: PluginSet | None = None,
    extra_plugins: Iterable[Any] = (),
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: Progress | None = None,
    executor: Any = None,
    cache_dir: Path | None = None,
    resume: bool = False,
) -> AnalysisResult:
    """Intake -> :func:`analyze_item` for every media item -> re-verify -> :func:`assemble_document`.

    ``executor`` (:mod:`forensics.executors`: local process pool or Ray) runs the per-item step elsewhere;
    results are recorded in item order, so the findings do not depend on it. ``cache_dir`` keeps each item's
    result (keyed by evidence SHA-256 and run configuration); with ``resume`` the results already there are
    reused (custody event ``RESUMED``) and only the other items are analysed.
    """
    case_dir = Path(os.path.abspath(case_dir))
    if not case_dir.is_dir():
        raise CaseError(f"case folder not found: {case_dir}")
    progress = progress or (lambda *a: None)
    started = utc_now()
    run_id = uuid.uuid4().hex
    env = environment()
    custody = CustodyLog()
    info = read_case_info(case_dir, case_id=case_id, examiner=examiner)
    ident = info.to_json()  # the case folder by name and path digest: the outputs carry no machine paths
    custody.event("RUN_START", run_id=run_id, case_id=info.case_id, examiner=info.examiner or "(not given)",
                  **env, case_folder=ident["root"], case_root_id=ident["root_id"])
    if info.case_toml_sha256:
        custody.event("CASE_TOML", sha256=info.case_toml_sha256)
    custody.event("BINDING", guarantee=BINDING_GUARANTEE)

    ps = plugins or load_plugins(extra=extra_plugins)
    selected = ps.select(detectors)
    for p in ps.problems:
        custody.event("PLUGIN_PROBLEM", plugin=p.plugin, message=p.message)
    for ld in selected:
        custody.event("DETECTOR", name=ld.detector.name, version=ld.detector.version, source=ld.source)
        if ld.detector.model_name and (origin := model_origin(ld)):
            card = ld.detector.model_card()
            custody.event("MODEL", detector=ld.detector.name, model=card.name, version=card.version, **origin,
                          files={k: v["sha256"] for k, v in card.data["files"].items()})

    items = intake(case_dir, out_dir, custody, progress)
    total_bytes = sum(it.size or 0 for it in items)

    results: dict[str, ItemResult] = {}
    artifacts: dict[str, bytes] = {}
    media_items = [it for it in items if it.is_media]
    from forensics.executors import ItemCache, LocalExecutor, config_key

    cache = ItemCache(cache_dir, config_key(selected, max_pixels)) if cache_dir else None
    resumed: dict[str, str] = {}  # item id -> SHA-256 of the cache file reused
    todo = []
    for it in media_items:
        hit = cache.load(it) if cache is not None and resume else None
        if hit is not None:
            results[it.id], resumed[it.id] = hit
        else:
            todo.append(it)
    done = len(results)
    run = executor or LocalExecutor(1)
    for it, r in run.map(todo, selected, list(detectors) if detectors else None, extra_plugins, max_pixels):
        progress("analysing", done, len(media_items), it.relpath)
        done += 1
        results[it.id] = r
        if cache is not None:
            cache.save(it, r)
    for it in media_items:  # recorded in item order, whichever worker finished first
        r = results[it.id]
        if it.id in resumed:
            custody.event("RESUMED", item=it.id, cache_file=f"{cache.dir.name}/{it.hashes.sha256}.json",
                          cache_sha256=resumed[it.id])
        for what, fields in r.events:
            custody.event(what, **fields)
        it.messages.extend(m for m in r.messages if m not in it.messages)
        artifacts.update(r.artifacts)
    progress("analysing", len(media_items), len(media_items), "")

    reverify(items, custody, progress)

    finished = utc_now()
    custody.event("RUN_END", run_id=run_id, items=len(items), bytes=total_bytes)
    document = assemble_document(info, ps, selected, items, results, env, run_id, started, finished)
    if executor is not None or resumed:
        document["run"]["executor"] = {**(executor.describe() if executor is not None else {"executor": "local"}),
                                       "resumed_items": sorted(resumed)}
    return AnalysisResult(document=document, artifacts=artifacts, custody=custody)


def _package_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("torch", "torchvision", "numpy", "scipy", "scikit-image", "scikit-learn", "opencv-python-headless",
                 "pillow", "av", "dlib-bin", "pluggy", "jinja2"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out
