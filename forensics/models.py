"""Model registry: trained weights identified by name and SHA-256, never downloaded.

Each model lives in ``models/<name>/`` with

* ``card.json`` -- machine-readable model card: architecture, training data and
  counts, the training command, measured metrics on held-out data, and for every
  file its SHA-256;
* ``MODEL_CARD.md`` -- the same for humans;
* the weight files themselves (safetensors / JSON / ``.npz``; nothing pickled).

:func:`load_card` checks every file's hash before anything is used. A missing or
mismatching file raises :class:`ModelUnavailable` with a reason, which detectors turn
into an "unavailable" finding. Extra search folders can be given in the environment
variable ``FORENSICS_MODELS_PATH`` (``os.pathsep``-separated), searched first.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


class ModelUnavailable(RuntimeError):
    """The model's files are missing, unreadable or do not match their hashes."""


def builtin_models_dir() -> Path:
    import forensics_models

    return Path(next(iter(forensics_models.__path__)))


def search_path() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("FORENSICS_MODELS_PATH", "").split(os.pathsep) if p]
    return extra + [builtin_models_dir()]


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class ModelCard:
    name: str
    directory: Path
    data: dict[str, Any]
    hashes: dict[str, str] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.data.get("version", "0"))

    def path(self, key: str = "weights") -> Path:
        return self.directory / self.data["files"][key]["path"]

    def model_ref(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "files": {k: {"path": f"{self.name}/{v['path']}", "sha256": v["sha256"]} for k, v in self.data["files"].items()},
            "card": f"models/{self.name}/MODEL_CARD.md",
        }

    @property
    def metrics(self) -> dict[str, Any]:
        """The headline measured error rate (``card.json`` ``metrics``), ``{}`` when none."""
        return dict(self.data.get("metrics") or {})

    @property
    def builtin(self) -> bool:
        """True when the model came from the installed ``models/`` folder, not ``FORENSICS_MODELS_PATH``."""
        try:
            return self.directory.resolve().parent == builtin_models_dir().resolve()
        except OSError:
            return False

    @property
    def origin(self) -> str:
        """``"built-in"`` or ``"FORENSICS_MODELS_PATH"``: where the weights were loaded from."""
        return "built-in" if self.builtin else "FORENSICS_MODELS_PATH"

    def load(self, key: str, loader: Callable[..., Any], *args: Any) -> Any:
        """``loader(path, *args)`` of the hash-checked file ``key``, cached per (file, SHA-256, loader, args).

        The one weight cache of the project: a detector calls ``card.load("weights", build_model, device)``
        on every item and gets the same object back until the file's hash changes. ``args`` must be
        hashable (an architecture name, a device string).
        """
        path = self.path(key)
        sha = self.hashes.get(key) or self.data["files"][key]["sha256"]
        ck = (str(path), sha, f"{getattr(loader, '__module__', '')}.{getattr(loader, '__qualname__', repr(loader))}",
              tuple(str(a) for a in args))
        if ck not in _weights:
            if len(_weights) >= _MAX_WEIGHTS:
                _weights.pop(next(iter(_weights)))
            _weights[ck] = loader(path, *args)
        return _weights[ck]

    def error_rate(self) -> dict[str, Any] | None:
        m = self.data.get("metrics")
        if not m:
            return None
        keep = ("auc", "auc_ci95", "eer", "accuracy", "balanced_accuracy", "tpr", "fpr", "threshold", "ece", "three_way",
                "n_test", "n_test_positive", "n_test_negative", "kind", "dataset", "command")
        return {k: m[k] for k in keep if k in m}


_cache: dict[tuple[str, str], ModelCard] = {}
_weights: dict[tuple[str, str, str, tuple], Any] = {}
_MAX_WEIGHTS = 8


def find_model_dir(name: str) -> Path | None:
    for root in search_path():
        d = root / name
        if (d / "card.json").is_file():
            return d
    return None


def load_card(name: str) -> ModelCard:
    """Load and hash-check model ``name``. Raises :class:`ModelUnavailable`."""
    directory = find_model_dir(name)
    if directory is None:
        raise ModelUnavailable(
            f"model '{name}' is not installed (no {name}/card.json in {', '.join(map(str, search_path()))}); "
            f"train it with `forensics train {name}`"
        )
    try:
        data = json.loads((directory / "card.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"model card {directory / 'card.json'} is unreadable: {exc}") from exc
    files = data.get("files") or {}
    if not files:
        raise ModelUnavailable(f"model card for '{name}' lists no files")
    key = (str(directory), json.dumps(files, sort_keys=True))
    signature = []
    for spec in files.values():
        p = directory / spec["path"]
        try:
            st = p.stat()
        except OSError:
            raise ModelUnavailable(f"model '{name}': weight file {spec['path']} is missing") from None
        signature.append((st.st_size, st.st_mtime_ns))
    cached = _cache.get(key)
    if cached is not None and cached.data.get("_signature") == signature:
        return cached
    hashes = {}
    for k, spec in files.items():
        actual = sha256_file(directory / spec["path"])
        if actual != spec["sha256"]:
            raise ModelUnavailable(
                f"model '{name}': {spec['path']} has SHA-256 {actual[:16]}…, the card records {spec['sha256'][:16]}…; "
                "refusing to use altered weights"
            )
        hashes[k] = actual
    card = ModelCard(name=name, directory=directory, data={**data, "_signature": signature}, hashes=hashes)
    _cache[key] = card
    return card


def write_card(directory: Path, data: dict[str, Any], markdown: str) -> Path:
    """Write ``card.json`` (hashing every listed file) and ``MODEL_CARD.md``."""
    directory.mkdir(parents=True, exist_ok=True)
    for spec in data["files"].values():
        spec["sha256"] = sha256_file(directory / spec["path"])
    (directory / "card.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (directory / "MODEL_CARD.md").write_text(markdown, encoding="utf-8")
    return directory / "card.json"
