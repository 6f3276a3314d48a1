"""Write the outputs of a run: report.html, findings.json, custody.log, artifacts, manifest.

Every file is written atomically (temporary file in the same folder, fsync,
rename), the manifest last: ``manifest.sha256`` lists the SHA-256 of every other
output in ``sha256sum`` format, so ``sha256sum -c manifest.sha256`` and
``forensics verify`` both check it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jinja2

from forensics.engine import AnalysisResult

OUTPUT_FILES = ("report.html", "findings.json", "custody.log")
MANIFEST = "manifest.sha256"


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp creates 0600; reports are meant to be shared
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def templates_dir() -> Path:
    import forensics_templates

    return Path(next(iter(forensics_templates.__path__)))


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=True,  # everything user-controlled (file names, case.toml, plugin text) is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda p: "—" if p is None else f"{100 * float(p):.1f} %"
    env.filters["num"] = lambda x, nd=3: "—" if x is None else f"{float(x):.{nd}f}"
    env.filters["tojson_pretty"] = lambda x: json.dumps(x, indent=2, sort_keys=True, ensure_ascii=False)
    return env


def render_html(result: AnalysisResult) -> str:
    doc = result.document

    def data_uri(name: str | None) -> str:
        if not name or name not in result.artifacts:
            return ""
        return "data:image/png;base64," + base64.b64encode(result.artifacts[name]).decode("ascii")

    tpl = environment().get_template("report.html.j2")
    return tpl.render(doc=doc, data_uri=data_uri)


def findings_json(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_outputs(result: AnalysisResult, out_dir: Path) -> dict[str, str]:
    """Write all outputs atomically; return ``{relative name: sha256}`` (the manifest)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    payloads: dict[str, bytes] = {}
    for name, data in sorted(result.artifacts.items()):
        payloads[name] = data
    payloads["findings.json"] = findings_json(result.document)
    payloads["report.html"] = render_html(result).encode("utf-8")
    result.custody.event("OUTPUTS_WRITTEN", out_dir=str(out_dir),
                         **{n.replace("/", "_").replace(".", "_"): hashlib.sha256(d).hexdigest()
                            for n, d in payloads.items() if "/" not in n})
    payloads["custody.log"] = result.custody.text().encode("utf-8")
    manifest = {}
    for name, data in payloads.items():
        atomic_write(out_dir / name, data)
        manifest[name] = hashlib.sha256(data).hexdigest()
    text = "".join(f"{h}  {n}\n" for n, h in sorted(manifest.items()))
    atomic_write(out_dir / MANIFEST, text.encode("utf-8"))
    return manifest


def read_manifest(out_dir: Path) -> dict[str, str]:
    entries = {}
    for line in (out_dir / MANIFEST).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        digest, _, name = line.partition("  ")
        entries[name] = digest
    return entries
