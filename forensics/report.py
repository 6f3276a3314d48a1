"""Write the outputs of a run: report.html, findings.json, custody.log, artifacts, manifest.

The report folder is published atomically: everything is written (and fsynced) into a sibling
temporary folder ``.<name>.incomplete-*`` holding an ``INCOMPLETE`` marker, the manifest last,
then the marker is removed and the folder renamed into place (exchanged with a previous report of
the same case, which is then cleared of the files its manifest lists). A run killed on the way
leaves only the hidden ``.incomplete`` folder, never a report folder that looks complete.

``manifest.sha256`` lists the SHA-256 of every other output in ``sha256sum`` format, so
``sha256sum -c manifest.sha256`` and ``forensics verify`` both check it; ``manifest.sha256.sig``
(optional) is its detached Ed25519 signature (:mod:`forensics.keys`). ``report.html`` embeds the
SHA-256 of ``findings.json`` (``<meta name="forensics-findings-sha256">``).

An output folder that is not empty is only reused when it holds a previous report of the same case
(or with ``force``, a report of another case); a folder holding anything else is refused
(:func:`check_output_folder`).
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import math
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from forensics.case import safe_name
from forensics.engine import AnalysisResult
from forensics.textsafe import json_line, safe_text

OUTPUT_FILES = ("report.html", "findings.json", "custody.log")
MANIFEST = "manifest.sha256"
SIGNATURE = "manifest.sha256.sig"
INCOMPLETE = "INCOMPLETE"
FINDINGS_DIGEST_META = "forensics-findings-sha256"


class OutputFolderError(Exception):
    """The output folder cannot be used (it holds something other than a previous report of this case)."""


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


def _lr_text(x: float | None) -> str:
    """A likelihood ratio for people: 3 significant figures, ``1/x`` written out below 1 (``1/25`` not ``0.04``)."""
    if x is None:
        return "—"
    x = float(x)
    if x >= 1:
        return f"{x:,.3g}" if x < 1000 else f"{x:,.0f}"
    inv = 1 / x
    return f"1/{inv:,.3g}" if inv < 1000 else f"1/{inv:,.0f}"


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
    env.filters["lrnum"] = _lr_text
    env.filters["tojson_pretty"] = lambda x: json.dumps(strict_json(x), indent=2, sort_keys=True, ensure_ascii=False)
    env.filters["prose"] = prose
    env.filters["nopaths"] = no_machine_paths
    env.finalize = _finalize
    return env


def _finalize(value: Any) -> Any:
    """Every ``{{ }}`` output: control, bidi and invisible characters shown as escapes (newlines kept)."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return safe_text(value, keep_newlines=True)


_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def prose(text: Any) -> Markup:
    """A docstring as HTML paragraphs and lists (``code`` spans kept), escaped."""
    def inline(t: str) -> str:
        esc = str(escape(safe_text(t)))
        return re.sub(r"``(.+?)``", r"<code>\1</code>", esc)

    out = []
    for para in re.split(r"\n\s*\n", inspect.cleandoc(str(text or ""))):
        lines = [ln for ln in para.splitlines() if ln.strip()]
        if not lines:
            continue
        if _BULLET.match(lines[0]):
            items: list[str] = []
            for ln in lines:
                if _BULLET.match(ln):
                    items.append(_BULLET.sub("", ln).strip())
                elif items:
                    items[-1] += " " + ln.strip()
            out.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in items) + "</ul>")
        else:
            out.append(f"<p>{inline(' '.join(ln.strip() for ln in lines))}</p>")
    return Markup("\n".join(out))


_SHARED = re.compile(r"(?:\.\./)+shared/(?:data/)?")
_ABS = re.compile(r"(?<![\w.~-])/(?:work|tmp|home|root|Users|mnt|media|var/tmp|scratch|data)/[^\s'\",;)]*")


def no_machine_paths(text: Any) -> str:
    """Model-card text without the training machine's paths: ``../shared/data/X`` -> ``X``, an absolute
    path under /work, /tmp, /home, ... -> its last two components."""
    if text is None:
        return ""
    s = _SHARED.sub("", str(text))
    return _ABS.sub(lambda m: "…/" + "/".join([p for p in m.group(0).split("/") if p][-2:]), s)


def render_html(result: AnalysisResult, findings_sha256: str = "") -> str:
    doc = result.document

    def data_uri(name: str | None) -> str:
        if not name or name not in result.artifacts:
            return ""
        return "data:image/png;base64," + base64.b64encode(result.artifacts[name]).decode("ascii")

    tpl = environment().get_template("report.html.j2")
    return tpl.render(doc=doc, data_uri=data_uri, findings_sha256=findings_sha256)


def embedded_findings_digest(html: str) -> str | None:
    """The SHA-256 of findings.json that a report.html embeds, ``None`` if it embeds none."""
    m = re.search(r'<meta name="' + FINDINGS_DIGEST_META + r'" content="([0-9a-f]{64})">', html)
    return m.group(1) if m else None


def strict_json(x: Any) -> Any:
    """``x`` with every non-finite float (a plugin's NaN or infinity) written as the string ``"NaN"``,
    ``"Infinity"`` or ``"-Infinity"``: JSON has no such numbers, and Python's ``NaN`` / ``Infinity`` tokens break
    strict parsers (browsers, jq, CASE/UCO tools) reading the findings."""
    if isinstance(x, float) and not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    if isinstance(x, dict):
        return {k: strict_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [strict_json(v) for v in x]
    return x


def findings_json(doc: dict[str, Any]) -> bytes:
    return (json.dumps(strict_json(doc), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
            + "\n").encode("utf-8")


def _list_files(root: Path) -> list[str]:
    out = []
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for fn in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]:
            out.append(os.path.relpath(os.path.join(dirpath, fn), root))
    return out


def check_output_folder(out_dir: Path, case_root: str, case_id: str = "", force: bool = False,
                        case_root_id: str | None = None) -> str:
    """Whether ``out_dir`` may receive a report of the case at ``case_root`` (the folder's display name;
    ``case_root_id``: the digest of its absolute path, as in ``findings.json``'s ``case.root_id``). Returns
    ``"new"``, ``"empty"`` or ``"previous report"``; raises :class:`OutputFolderError` otherwise.

    A folder holding files that no manifest of a previous report lists is always refused (nothing of
    someone else's is ever deleted or mixed into a report); a previous report of another case only with
    ``force`` (and then only the files its manifest lists are removed).
    """
    if not os.path.lexists(out_dir):
        return "new"
    if os.path.islink(out_dir) or not out_dir.is_dir():
        raise OutputFolderError(f"{out_dir} exists and is not a folder")
    files = _list_files(out_dir)
    if not files:
        return "empty"
    if MANIFEST not in files:
        raise OutputFolderError(
            f"{out_dir} is not empty ({len(files)} file(s), e.g. {safe_text(files[0])}) and holds no forensics report; "
            "choose a new or empty output folder")
    try:
        listed = set(read_manifest(out_dir))
    except (OSError, ValueError) as exc:
        raise OutputFolderError(f"{out_dir} holds an unreadable {MANIFEST}: {exc}") from exc
    foreign = [f for f in files if f not in listed and f not in (MANIFEST, SIGNATURE)]
    if foreign:
        raise OutputFolderError(
            f"{out_dir} holds {len(foreign)} file(s) that its {MANIFEST} does not list (e.g. {safe_text(foreign[0])}); "
            "they are not removed nor mixed into a new report: choose a new or empty output folder")
    try:
        prev = json.loads((out_dir / "findings.json").read_text(encoding="utf-8")).get("case", {})
    except (OSError, ValueError):
        prev = {}
    same_folder = (prev.get("root_id") == case_root_id) if case_root_id and prev.get("root_id") else \
        prev.get("root") == case_root
    if same_folder and str(prev.get("case_id", "")) == str(case_id or ""):
        return "previous report"
    if force:
        return "previous report"
    raise OutputFolderError(
        f"{out_dir} holds the report of another case (case {safe_text(prev.get('case_id') or '?')}, folder "
        f"{safe_text(prev.get('root') or '?')}); use --force to replace it (only the files its manifest lists are removed)")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); ``False`` where unsupported."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return fn(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange) == 0


def _clear_previous(old: Path, keep_root: bool = False) -> None:
    """Remove a replaced report: only the files its manifest lists (and the manifest and signature)."""
    try:
        listed = list(read_manifest(old))
    except (OSError, ValueError):
        listed = []
    for name in listed + [MANIFEST, SIGNATURE]:
        p = old / name
        if _inside(old, name):
            try:
                os.unlink(p)
            except OSError:
                pass
    for dirpath, _dirs, _files in sorted(os.walk(old, topdown=False), key=lambda t: -len(t[0])):
        if keep_root and os.path.samefile(dirpath, old):
            continue
        try:
            os.rmdir(dirpath)
        except OSError:
            pass


def _inside(root: Path, name: str) -> bool:
    """``name`` is a plain relative path that stays inside ``root`` (no ``..``, not absolute)."""
    if not name or os.path.isabs(name) or "\x00" in name:
        return False
    parts = Path(name).parts
    return ".." not in parts and not name.startswith("/")


def write_outputs(result: AnalysisResult, out_dir: Path, sign_key: Any = None, force: bool = False) -> dict[str, str]:
    """Write all outputs and publish the folder atomically; return ``{relative name: sha256}`` (the manifest).

    ``sign_key`` (an Ed25519 private key, :func:`forensics.keys.load_private`) adds ``manifest.sha256.sig``.
    """
    out_dir = Path(os.path.abspath(out_dir))
    doc = result.document
    state = check_output_folder(out_dir, doc["case"]["root"], doc["case"].get("case_id", ""), force=force,
                                case_root_id=doc["case"].get("root_id"))
    payloads: dict[str, bytes] = {}
    for name, data in sorted(result.artifacts.items()):
        payloads[name] = data
    payloads["findings.json"] = findings_json(doc)
    findings_sha = hashlib.sha256(payloads["findings.json"]).hexdigest()
    payloads["report.html"] = render_html(result, findings_sha256=findings_sha).encode("utf-8")
    result.custody.event("OUTPUTS_WRITTEN", out_folder=safe_name(out_dir.name),
                         **{n.replace("/", "_").replace(".", "_"): hashlib.sha256(d).hexdigest()
                            for n, d in payloads.items() if "/" not in n})
    payloads["custody.log"] = result.custody.text().encode("utf-8")

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.incomplete-"))
    except PermissionError:
        if not out_dir.is_dir():
            raise
        return _write_in_place(out_dir, payloads, sign_key)  # the parent is not writable, the folder is
    published = False
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp creates 0700; reports are meant to be shared
        (tmp / INCOMPLETE).write_text("This report folder is being written (or its writing was interrupted). "
                                      "It is not a report.\n", encoding="utf-8")
        manifest = {}
        for name, data in payloads.items():
            _write_file(tmp / name, data, umask)
            manifest[name] = hashlib.sha256(data).hexdigest()
        text = "".join(f"{h}  {n}\n" for n, h in sorted(manifest.items())).encode("utf-8")
        _write_file(tmp / MANIFEST, text, umask)
        if sign_key is not None:
            from forensics.keys import sign_manifest

            _write_file(tmp / SIGNATURE, sign_manifest(text, sign_key), umask)
        os.unlink(tmp / INCOMPLETE)
        _fsync_dir(tmp)
        if state in ("new", "empty"):
            os.rename(tmp, out_dir)  # onto a missing or empty folder: atomic
            published = True
        else:
            old = tmp
            if _exchange(tmp, out_dir):
                published = True
            else:  # no renameat2: two renames (the folder is briefly absent, never half-written)
                old = out_dir.parent / f".{out_dir.name}.replaced-{uuid.uuid4().hex[:8]}"
                os.rename(out_dir, old)
                os.rename(tmp, out_dir)
                published = True
            _clear_previous(old)
        _fsync_dir(out_dir.parent)
    except BaseException:
        if not published:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _write_in_place(out_dir: Path, payloads: dict[str, bytes], sign_key: Any) -> dict[str, str]:
    """Fallback when only the output folder itself is writable: an ``INCOMPLETE`` marker is written first
    and removed last (after the manifest), so an interrupted run never looks complete."""
    umask = os.umask(0)
    os.umask(umask)
    marker = out_dir / INCOMPLETE
    atomic_write(marker, b"This report folder is being written (or its writing was interrupted). It is not a report.\n")
    _clear_previous(out_dir, keep_root=True)
    manifest = {}
    for name, data in payloads.items():
        atomic_write(out_dir / name, data)
        manifest[name] = hashlib.sha256(data).hexdigest()
    text = "".join(f"{h}  {n}\n" for n, h in sorted(manifest.items())).encode("utf-8")
    atomic_write(out_dir / MANIFEST, text)
    if sign_key is not None:
        from forensics.keys import sign_manifest

        atomic_write(out_dir / SIGNATURE, sign_manifest(text, sign_key))
    os.unlink(marker)
    _fsync_dir(out_dir)
    return manifest


def _write_file(path: Path, data: bytes, umask: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666 & ~umask)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def append_seal_log(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line (the manifest's SHA-256 and the run) to an examiner's log kept outside the report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(json_line(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_manifest(out_dir: Path) -> dict[str, str]:
    entries = {}
    for line in (out_dir / MANIFEST).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        digest, _, name = line.partition("  ")
        entries[name] = digest
    return entries


def manifest_entry_inside(out_dir: Path, name: str) -> bool:
    """A manifest entry names a plain file inside the report folder (no ``..``, not absolute, no link on the way)."""
    if not _inside(out_dir, name):
        return False
    real_root = os.path.realpath(out_dir)
    real = os.path.realpath(os.path.join(out_dir, name))
    return real.startswith(real_root + os.sep)
