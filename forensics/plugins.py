"""Plugin host: load detector plugins through pluggy, isolating broken ones.

Every plugin -- built-in or third-party -- is found through the entry-point group
``forensics.detectors``. A plugin that fails to import, whose hook raises, or that
returns something other than detectors is recorded as a :class:`PluginProblem`
(naming the plugin) and the rest still load.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import os
from dataclasses import dataclass, field
from typing import Any, Iterable

import pluggy

from forensics import hookspecs
from forensics.detector import Detector


@dataclass
class LoadedDetector:
    detector: Detector
    plugin: str  # plugin (entry point) name
    source: str  # distribution and module it came from


@dataclass
class PluginProblem:
    plugin: str
    message: str


@dataclass
class PluginSet:
    manager: pluggy.PluginManager
    detectors: list[LoadedDetector] = field(default_factory=list)
    problems: list[PluginProblem] = field(default_factory=list)

    def select(self, names: Iterable[str] | None) -> list[LoadedDetector]:
        if not names:
            return list(self.detectors)
        wanted = list(names)
        known = {d.detector.name for d in self.detectors}
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise KeyError(f"unknown detector(s): {', '.join(unknown)}; loaded: {', '.join(sorted(known)) or 'none'}")
        return [d for d in self.detectors if d.detector.name in wanted]

    def describe(self) -> list[dict[str, Any]]:
        """One entry per detector: name, version, kinds, source and model status."""
        from forensics.models import ModelUnavailable

        rows = []
        for ld in self.detectors:
            det = ld.detector
            row: dict[str, Any] = {
                "name": det.name,
                "version": det.version,
                "media_kinds": list(det.media_kinds),
                "plugin": ld.plugin,
                "source": ld.source,
                "method": det.method,
            }
            if det.model_name is None:
                row["model"] = {"status": "no trained model needed"}
            else:
                try:
                    card = det.model_card()
                    row["model"] = {"status": "present, hash verified", **card.model_ref(), "error_rate": card.error_rate()}
                except ModelUnavailable as exc:
                    row["model"] = {"status": "unavailable", "reason": str(exc)}
            rows.append(row)
        return rows


def env_plugins() -> list[str]:
    """Plugin modules named in ``FORENSICS_PLUGINS`` (comma-separated dotted names)."""
    return [m.strip() for m in os.environ.get("FORENSICS_PLUGINS", "").split(",") if m.strip()]


def register_commands(ps: PluginSet, cli: Any, train: Any) -> None:
    """Call every plugin's ``forensics_register_commands(cli, train)``; a failing plugin is recorded, not fatal.

    A command name that is already taken (by the core or an earlier plugin) is refused and reported.
    """
    def names(app: Any) -> set[str]:
        return {c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands} | {
            g.name for g in app.registered_groups if g.name}

    for impl in ps.manager.hook.forensics_register_commands.get_hookimpls():
        before_cli, before_train = names(cli), names(train)
        n_cli, n_train = len(cli.registered_commands), len(train.registered_commands)
        try:
            impl.function(cli=cli, train=train)
        except Exception as exc:  # noqa: BLE001 - a plugin must never break the command line
            ps.problems.append(PluginProblem(impl.plugin_name, f"forensics_register_commands raised {type(exc).__name__}: {exc}"))
            del cli.registered_commands[n_cli:]
            del train.registered_commands[n_train:]
            continue
        for app, before, n, where in ((cli, before_cli, n_cli, "forensics"), (train, before_train, n_train, "forensics train")):
            added = app.registered_commands[n:]
            keep = []
            for c in added:
                name = c.name or c.callback.__name__.replace("_", "-")
                if name in before:
                    ps.problems.append(PluginProblem(impl.plugin_name, f"command '{where} {name}' is already taken; ignored"))
                else:
                    before.add(name)
                    keep.append(c)
            app.registered_commands[n:] = keep


def load_plugins(extra: Iterable[Any] = (), entry_points: bool = True) -> PluginSet:
    """Build the plugin manager.

    Parameters
    ----------
    extra : iterable
        Additional plugin objects, or dotted module names, to register (used by
        ``forensics analyze --plugin`` and by tests).
    entry_points : bool
        Load plugins from the ``forensics.detectors`` entry-point group.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    ps = PluginSet(manager=pm)
    sources: dict[str, str] = {}

    if entry_points:
        eps = sorted(md.entry_points(group=hookspecs.ENTRY_POINT_GROUP), key=lambda e: e.name)
        for ep in eps:
            if pm.has_plugin(ep.name):
                continue
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "unknown distribution"
            try:
                obj = ep.load()
                pm.register(obj, name=ep.name)
            except Exception as exc:  # noqa: BLE001 - isolate broken plugins
                ps.problems.append(PluginProblem(ep.name, f"failed to load {ep.value} ({dist}): {type(exc).__name__}: {exc}"))
                continue
            sources[ep.name] = f"{dist} ({ep.value})"

    for obj in [*env_plugins(), *extra]:
        name = obj if isinstance(obj, str) else getattr(obj, "__name__", repr(obj))
        if pm.has_plugin(name):
            continue
        try:
            if isinstance(obj, str):
                obj = importlib.import_module(obj)
            pm.register(obj, name=name)
        except Exception as exc:  # noqa: BLE001
            ps.problems.append(PluginProblem(name, f"failed to load: {type(exc).__name__}: {exc}"))
            continue
        sources[name] = f"extra plugin ({name})"

    seen: set[str] = set()
    for impl in pm.hook.forensics_register_detectors.get_hookimpls():
        try:
            result = impl.function()
        except Exception as exc:  # noqa: BLE001
            ps.problems.append(PluginProblem(impl.plugin_name, f"forensics_register_detectors raised {type(exc).__name__}: {exc}"))
            continue
        for det in result or []:
            if not isinstance(det, Detector) or not det.name:
                ps.problems.append(PluginProblem(impl.plugin_name, f"returned {det!r}, which is not a named Detector"))
                continue
            if det.name in seen:
                ps.problems.append(PluginProblem(impl.plugin_name, f"detector name '{det.name}' is already taken; ignored"))
                continue
            seen.add(det.name)
            ps.detectors.append(LoadedDetector(det, impl.plugin_name, sources.get(impl.plugin_name, impl.plugin_name)))
    ps.detectors.sort(key=lambda d: d.detector.name)
    return ps
