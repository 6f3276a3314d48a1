"""Where per-item analysis runs: in-process, a local process pool, or Ray; and the per-item result cache.

The engine's per-item step (:func:`forensics.engine.analyze_item`: item + detectors -> findings, artifacts,
custody events) is pure, so it can run anywhere the evidence path and the package are available. Only the
coordinating process writes the custody log, the per-item cache and the outputs; workers only return
:class:`~forensics.engine.ItemResult` objects, which the coordinator records **in item order**, so the
findings are the same whichever executor ran them (only the run block and timings differ).

Executors
---------
* :class:`LocalExecutor` (``--executor local --workers N``): ``N = 1`` runs in this process; ``N > 1`` uses a
  ``spawn`` process pool, each worker loading the plugins once and keeping its models loaded.
* :class:`RayExecutor` (``--executor ray [--ray-address ADDR]``): one long-lived Ray actor per worker
  (models stay loaded); with no address a local Ray is started for the run and stopped after it; with
  ``ray start --head`` on one machine and ``ray start --address HEAD:6379`` on others, ``--ray-address auto``
  (or the head's address) uses them all. Actors ask for ``num_gpus`` when the cluster has GPUs, so the CNN
  detectors run there. Every node needs the same ``forensics`` install and the evidence at the same path
  (a shared file system). ``RAY_USAGE_STATS_ENABLED=0`` is set: nothing is reported anywhere.

Resume
------
:class:`ItemCache` keeps each item's result as JSON (artifacts as base64 PNG) in a folder next to the output
(``<out>.cache/``), keyed by the evidence SHA-256 and by a key of the run configuration (tool version,
detector names, versions and model hashes, decoding limit), so ``--resume`` reuses only results made by the
same code and models; item ids and artifact names are re-mapped when the same bytes appear under another id.
A reused result is a custody event naming the cache file and its SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

if TYPE_CHECKING:  # pragma: no cover
    from forensics.case import EvidenceItem
    from forensics.engine import ItemResult
    from forensics.plugins import LoadedDetector

CACHE_SCHEMA = "forensics.item-result/1"


# ------------------------------------------------------------------------------ worker side
_WORKER: dict[str, Any] = {}


def _coordinator_threads() -> int:
    """Torch intra-op threads of this process: workers use the same number, because float reductions (and so
    the last digits of a CNN's output) depend on it; identical findings matter more than a little speed."""
    try:
        import torch

        return int(torch.get_num_threads())
    except ImportError:  # pragma: no cover - torch is a dependency
        return 1


def _init_worker(detectors: list[str] | None, plugins: list[str], max_pixels: int, threads: int) -> None:
    """Load the plugins once per worker process (their models are then cached for every item)."""
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    from forensics.plugins import load_plugins

    ps = load_plugins(extra=plugins)
    _WORKER.update(selected=ps.select(detectors), max_pixels=max_pixels)


def _analyse_in_worker(item: "EvidenceItem") -> tuple[str, "ItemResult", dict[str, Any]]:
    from forensics.engine import analyze_item

    checks = item.binding_checks
    res = analyze_item(item, _WORKER["selected"], max_pixels=_WORKER["max_pixels"])
    return item.id, res, {"binding_problems": list(item.binding_problems),
                          "binding_checks": item.binding_checks - checks}


def _merge_item_state(item: "EvidenceItem", state: dict[str, Any]) -> None:
    """What the worker's copy of the item learnt while decoding (identity checks) goes back to the original."""
    for p in state.get("binding_problems", []):
        if p not in item.binding_problems:
            item.binding_problems.append(p)
    item.binding_checks += int(state.get("binding_checks", 0))


def _plugin_names(extra_plugins: Iterable[Any]) -> list[str]:
    names = []
    for p in extra_plugins:
        if not isinstance(p, str):
            raise ValueError("a worker pool or Ray can load extra plugins only by module name (--plugin MODULE), "
                             f"not the object {getattr(p, '__name__', p)!r}")
        names.append(p)
    return names


# ------------------------------------------------------------------------------ executors
class LocalExecutor:
    """In this process (``workers=1``) or a local ``spawn`` process pool (``workers > 1``)."""

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "workers": self.workers}

    def map(self, items: list["EvidenceItem"], selected: list["LoadedDetector"], detectors: list[str] | None,
            extra_plugins: Iterable[Any], max_pixels: int) -> Iterator[tuple["EvidenceItem", "ItemResult"]]:
        from forensics.engine import analyze_item

        if self.workers == 1 or len(items) <= 1:
            for it in items:
                yield it, analyze_item(it, selected, max_pixels=max_pixels)
            return
        import concurrent.futures as cf
        import multiprocessing as mp

        plugins = _plugin_names(extra_plugins)
        n = min(self.workers, len(items))
        by_id = {it.id: it for it in items}
        with cf.ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                    initargs=(detectors, plugins, max_pixels, _coordinator_threads())) as pool:
            futures = [pool.submit(_analyse_in_worker, it) for it in items]
            for fut in cf.as_completed(futures):
                item_id, res, state = fut.result()
                _merge_item_state(by_id[item_id], state)
                yield by_id[item_id], res


class RayExecutor:
    """Ray tasks on long-lived actors (see the module docstring)."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        self.address = address
        self.workers = workers
        self.started_here = False
        self.nodes = 0
        self.gpus_per_worker = 0.0

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "address": self.address or "local", "workers": self.workers,
                "nodes": self.nodes, "gpus_per_worker": self.gpus_per_worker}

    def _start(self):
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            import ray
        except ImportError as exc:
            raise RuntimeError("--executor ray needs Ray: pip install 'forensics[ray]'") from exc
        if not ray.is_initialized():
            kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            if self.address:
                ray.init(address=self.address, **kw)
            else:
                ray.init(num_cpus=self.workers or os.cpu_count() or 1, **kw)
                self.started_here = True
        return ray

    def map(self, items: list["EvidenceItem"], selected: list["LoadedDetector"], detectors: list[str] | None,
            extra_plugins: Iterable[Any], max_pixels: int) -> Iterator[tuple["EvidenceItem", "ItemResult"]]:
        if not items:
            return
        plugins = _plugin_names(extra_plugins)
        ray = self._start()
        try:
            res = ray.cluster_resources()
            self.nodes = len([n for n in ray.nodes() if n.get("Alive")])
            cpus = int(res.get("CPU", 1))
            n = max(1, min(self.workers or cpus, cpus, len(items)))
            self.workers = n
            gpus = float(res.get("GPU", 0.0))
            self.gpus_per_worker = round(min(1.0, gpus / n), 4) if gpus else 0.0
            threads = _coordinator_threads()
            actor_cls = ray.remote(num_cpus=1, num_gpus=self.gpus_per_worker)(_RayWorker)
            actors = [actor_cls.remote(detectors, plugins, max_pixels, threads) for _ in range(n)]
            by_id = {it.id: it for it in items}
            pending: dict[Any, Any] = {}
            queue = list(items)
            free = list(actors)

            def submit():
                while free and queue:
                    a = free.pop()
                    pending[a.analyse.remote(queue.pop(0))] = a

            submit()
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    free.append(pending.pop(ref))
                    item_id, r, state = ray.get(ref)
                    _merge_item_state(by_id[item_id], state)
                    yield by_id[item_id], r
                submit()
            for a in actors:
                ray.kill(a)
        finally:
            if self.started_here:
                ray.shutdown()
                self.started_here = False


class _RayWorker:
    """One Ray actor: plugins and models loaded once, then one item per call."""

    def __init__(self, detectors, plugins, max_pixels, threads):
        _init_worker(detectors, plugins, max_pixels, threads)

    def analyse(self, item):
        return _analyse_in_worker(item)


def make_executor(name: str = "local", workers: int = 1, ray_address: str | None = None):
    """The executor for ``forensics analyze --executor NAME``."""
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(ray_address, workers if workers and workers > 1 else None)
    raise ValueError(f"unknown executor {name!r}: use 'local' or 'ray'")


# ------------------------------------------------------------------------------ per-item cache (--resume)
def config_key(selected: list["LoadedDetector"], max_pixels: int) -> str:
    """SHA-256 of what decides an item's result: tool version, detectors (name, version, model hashes), limits."""
    from forensics import __version__
    from forensics.models import ModelUnavailable

    dets = []
    for ld in selected:
        d = ld.detector
        files: dict[str, str] = {}
        try:
            card = d.model_card()
            if card is not None:
                files = {k: v.get("sha256", "") for k, v in sorted(card.data.get("files", {}).items())}
        except ModelUnavailable as exc:
            files = {"unavailable": str(exc)}
        dets.append({"name": d.name, "version": d.version, "plugin": ld.plugin, "models": files})
    blob = json.dumps({"tool": __version__, "detectors": dets, "max_pixels": max_pixels}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def result_to_json(res: "ItemResult") -> dict[str, Any]:
    """A JSON form of an :class:`~forensics.engine.ItemResult` (safe to store: no pickle)."""
    findings = []
    for f in res.findings:
        findings.append({
            "detector": f.detector, "version": f.version, "status": f.status.value, "reason": f.reason,
            "probability": f.probability, "score": None if f.score is None else float(f.score),
            "summary": f.summary, "error_rate": f.error_rate, "model": f.model, "method": f.method,
            "details": f.details,
            "artifacts": [{"title": a.title, "caption": a.caption, "slug": a.slug,
                           "png": base64.b64encode(a.png).decode("ascii")} for a in f.artifacts],
        })
    return {
        "schema": CACHE_SCHEMA, "item_id": res.item_id, "findings": findings,
        "artifacts": {k: base64.b64encode(v).decode("ascii") for k, v in sorted(res.artifacts.items())},
        "artifact_files": {d: {str(k): v for k, v in m.items()} for d, m in res.artifact_files.items()},
        "messages": list(res.messages), "events": [[w, f] for w, f in res.events], "decoded": res.decoded,
        "decode": getattr(res, "decode", None), "coverage": getattr(res, "coverage", None),
        "timeline": getattr(res, "timeline", []), "timeline_artifacts": getattr(res, "timeline_artifacts", []),
    }


def result_from_json(data: dict[str, Any], item_id: str) -> "ItemResult":
    """Rebuild an :class:`~forensics.engine.ItemResult`, re-mapping its item id to ``item_id``."""
    from forensics.detector import Artifact, Finding
    from forensics.engine import ItemResult

    if data.get("schema") != CACHE_SCHEMA:
        raise ValueError(f"not a cached item result ({data.get('schema')!r})")
    old = data["item_id"]

    def remap(name: str) -> str:
        prefix = f"artifacts/{old}-"
        return f"artifacts/{item_id}-" + name[len(prefix):] if name.startswith(prefix) else name

    def remap_obj(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: (item_id if k == "item" and v == old else remap_obj(v)) for k, v in x.items()}
        if isinstance(x, list):
            return [remap_obj(v) for v in x]
        return remap(x) if isinstance(x, str) else x

    findings = []
    for f in data["findings"]:
        arts = [Artifact(title=a["title"], png=base64.b64decode(a["png"]), caption=a["caption"], slug=a["slug"])
                for a in f["artifacts"]]
        findings.append(Finding(detector=f["detector"], version=f["version"], status=f["status"], reason=f["reason"],
                                probability=f["probability"], score=f["score"], summary=f["summary"],
                                error_rate=f["error_rate"], model=f["model"], method=f["method"],
                                details=f["details"], artifacts=arts))
    res = ItemResult(item_id)
    res.findings = findings
    res.artifacts = {remap(k): base64.b64decode(v) for k, v in data["artifacts"].items()}
    res.artifact_files = {d: {int(k): remap(v) for k, v in m.items()} for d, m in data["artifact_files"].items()}
    res.messages = list(data["messages"])
    res.events = [(w, remap_obj(f)) for w, f in data["events"]]
    res.decoded = bool(data["decoded"])
    for k in ("decode", "coverage", "timeline", "timeline_artifacts"):
        if hasattr(res, k) and data.get(k) is not None:
            setattr(res, k, remap_obj(data[k]))
    return res


class ItemCache:
    """Per-item results as JSON files ``<sha256>.json`` under ``root/<config key>/``, written atomically."""

    def __init__(self, root: Path, key: str) -> None:
        self.root = Path(root)
        self.key = key
        self.dir = self.root / key[:16]

    @staticmethod
    def for_output(out_dir: Path) -> Path:
        """The cache folder next to an output folder: ``<out>.cache``."""
        out_dir = Path(os.path.abspath(out_dir))
        return out_dir.parent / f"{out_dir.name}.cache"

    def path(self, item: "EvidenceItem") -> Path | None:
        if not item.hashes:
            return None
        return self.dir / f"{item.hashes.sha256}.json"

    def load(self, item: "EvidenceItem") -> tuple["ItemResult", str] | None:
        """``(result, sha256 of the cache file)`` for this item's bytes, or ``None``."""
        p = self.path(item)
        if p is None or not p.is_file():
            return None
        raw = p.read_bytes()
        try:
            data = json.loads(raw)
            if data.get("config_key") != self.key:
                return None
            return result_from_json(data["result"], item.id), hashlib.sha256(raw).hexdigest()
        except (ValueError, KeyError, TypeError):
            return None  # unreadable or from another version: analysed again

    def save(self, item: "EvidenceItem", res: "ItemResult") -> None:
        p = self.path(item)
        if p is None or not res.decoded:
            return
        from forensics.report import atomic_write

        data = {"config_key": self.key, "sha256": item.hashes.sha256, "result": result_to_json(res)}
        atomic_write(p, json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8"))
