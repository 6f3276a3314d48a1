"""Case folders on disk for the web app: case.toml, streamed uploads, read-only references, the intake log.

A case is an ordinary case folder ``DIR/<case id>/`` (``case.toml`` + evidence files), so `forensics analyze`
and `forensics verify --case` work on it unchanged. The web app's own records live beside it, outside every case
folder, in ``DIR/.forensics-web/<case id>/``:

- ``intake.jsonl``: one JSON line per uploaded file (UTC time, original name *as given* -- metadata only, never a
  path --, stored name, size, SHA-256/SHA-1/MD5, kind and format sniffed from the content, the client's claimed
  content type for the record);
- ``references.json``: existing folders on this machine that the case points at (read, never written);
- ``incoming/``: partial uploads (never inside the case folder, so an analysis never sees half a file).

An upload is written in chunks to ``incoming/`` while its three digests are computed, fsynced, made read-only
(0444) and only then renamed into the case folder under ``<first 16 hex of SHA-256>.<extension of the sniffed
format>``: the same content uploaded twice is stored once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from forensics.case import sniff, utc_now

STATE_DIR = ".forensics-web"
CASE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
EXTENSIONS = {"jpeg": "jpg", "png": "png", "tiff": "tif", "webp": "webp", "bmp": "bmp", "gif": "gif", "mp4": "mp4",
              "mov": "mov", "avi": "avi", "mkv": "mkv", "webm": "webm", "pdf": "pdf", "text": "txt"}
FIELDS = ("name", "case_number", "examiner", "agency", "description")


class StoreError(Exception):
    """A request the store refuses (unknown case, bad folder, ...); the message is shown to the user."""


class UploadTooLarge(StoreError):
    """An upload over the size or count limit (HTTP 413)."""


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string (control characters escaped; round-trips through ``tomllib``)."""
    s = json.dumps(str(value), ensure_ascii=False)  # escapes ", \\ and C0 controls in a way TOML accepts
    return s.replace("\x7f", "\\u007f")


def case_toml(info: dict[str, str]) -> str:
    lines = ["# Written by `forensics serve`.", "[case]"]
    lines += [f"{k} = {toml_string(info.get(k, ''))}" for k in FIELDS]
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # never write a case.toml the engine cannot read
    return text


def display_original(name: str, limit: int = 200) -> str:
    """A short printable form of a client-supplied file name (for pages; the raw name stays in the log)."""
    s = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in name)
    return s if len(s) <= limit else s[: limit - 1] + "…"


@dataclass
class Limits:
    max_file_bytes: int = 4 << 30
    max_files: int = 200
    max_request_bytes: int = 16 << 30


@dataclass
class PendingUpload:
    """One file being received: written to ``incoming/``, hashed while written."""

    store: "CaseStore"
    case_id: str
    original_name: str
    client_type: str
    limits: Limits
    tmp_path: Path = field(init=False)
    size: int = 0
    head: bytes = b""
    _fd: int = -1

    def __post_init__(self) -> None:
        inc = self.store.state_dir(self.case_id) / "incoming"
        inc.mkdir(parents=True, exist_ok=True)
        self.tmp_path = inc / f"{secrets.token_hex(12)}.part"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(self.tmp_path, flags, 0o600)
        self._hashes = [hashlib.sha256(), hashlib.sha1(), hashlib.md5()]

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self.size + len(data) > self.limits.max_file_bytes:
            raise UploadTooLarge(f"file {display_original(self.original_name)!r} is larger than the limit of "
                                 f"{self.limits.max_file_bytes} bytes per file")
        if len(self.head) < 64:
            self.head += bytes(data[: 64 - len(self.head)])
        for h in self._hashes:
            h.update(data)
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self.size += len(data)

    def close(self) -> None:
        """Flush to disk and make the file read-only (still in ``incoming/``)."""
        os.fsync(self._fd)
        os.fchmod(self._fd, 0o444)
        os.close(self._fd)
        self._fd = -1

    def discard(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        try:
            os.unlink(self.tmp_path)
        except FileNotFoundError:
            pass

    def digests(self) -> dict[str, str]:
        return {"sha256": self._hashes[0].hexdigest(), "sha1": self._hashes[1].hexdigest(),
                "md5": self._hashes[2].hexdigest()}


class CaseStore:
    """All cases under one folder (``forensics serve --cases DIR``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / STATE_DIR).mkdir(exist_ok=True)
        self._lock = threading.Lock()
        self._case_locks: dict[str, threading.Lock] = {}
        for part in (self.root / STATE_DIR).glob("*/incoming/*.part"):  # left by a server stopped mid-upload
            part.unlink(missing_ok=True)

    # ------------------------------------------------------------------ paths
    def case_dir(self, case_id: str) -> Path:
        if not CASE_ID_RE.match(case_id or "") or case_id == STATE_DIR:
            raise StoreError(f"no such case: {display_original(case_id)}")
        d = self.root / case_id
        if not d.is_dir() or d.is_symlink():
            raise StoreError(f"no such case: {case_id}")
        return d

    def state_dir(self, case_id: str) -> Path:
        self.case_dir(case_id)
        d = self.root / STATE_DIR / case_id
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _case_lock(self, case_id: str) -> threading.Lock:
        with self._lock:
            return self._case_locks.setdefault(case_id, threading.Lock())

    # ------------------------------------------------------------------ cases
    def create(self, name: str, examiner: str = "", case_number: str = "", description: str = "",
               agency: str = "") -> str:
        name = (name or "").strip()
        if not name:
            raise StoreError("a case needs a name")
        info = {"name": name, "case_number": case_number.strip(), "examiner": examiner.strip(),
                "agency": agency.strip(), "description": description.strip()}
        for k, v in info.items():
            if len(v) > 4000:
                raise StoreError(f"{k} is too long (at most 4000 characters)")
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "case"
        text = case_toml(info)
        with self._lock:
            while True:
                case_id = f"{slug}-{secrets.token_hex(3)}"
                d = self.root / case_id
                try:
                    d.mkdir()
                    break
                except FileExistsError:
                    continue
        (d / "case.toml").write_text(text, encoding="utf-8")
        self.state_dir(case_id)
        return case_id

    def list(self) -> list[dict[str, Any]]:
        out = []
        for d in sorted(self.root.iterdir(), key=lambda p: p.name):
            if d.name.startswith(".") or not d.is_dir() or d.is_symlink() or not CASE_ID_RE.match(d.name):
                continue
            out.append(self.info(d.name))
        return out

    def info(self, case_id: str) -> dict[str, Any]:
        d = self.case_dir(case_id)
        info: dict[str, Any] = {"id": case_id, **{k: "" for k in FIELDS}, "messages": []}
        toml_path = d / "case.toml"
        if toml_path.is_file() and not toml_path.is_symlink():
            try:
                data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
                sec = data.get("case", data)
                for k in FIELDS:
                    info[k] = str(sec.get(k, ""))
                info["case_number"] = info["case_number"] or str(sec.get("case_id", sec.get("number", "")))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                info["messages"].append(f"case.toml could not be read: {exc}")
        info["name"] = info["name"] or case_id
        info["references"] = self.references(case_id)
        return info

    # ------------------------------------------------------------------ evidence
    def evidence(self, case_id: str) -> list[dict[str, Any]]:
        """Files in the case folder, with the intake record of each uploaded one."""
        d = self.case_dir(case_id)
        records: dict[str, dict[str, Any]] = {}
        for r in self.intake(case_id):  # the first upload of a content names it; later copies are duplicates
            if r.get("stored_name"):
                records.setdefault(r["stored_name"], r)
        out = []
        for p in sorted(d.iterdir(), key=lambda p: os.fsencode(p.name)):
            if p.name == "case.toml":
                continue
            rec = records.get(p.name)
            st = os.lstat(p)
            out.append({"name": p.name, "size": st.st_size, "uploaded": rec is not None,
                        "original_name": rec["original_name"] if rec else None,
                        "kind": rec["kind"] if rec else None, "format": rec["format"] if rec else None,
                        "sha256": rec["sha256"] if rec else None, "read_only": not (st.st_mode & 0o222)})
        return out

    def intake(self, case_id: str) -> list[dict[str, Any]]:
        p = self.state_dir(case_id) / "intake.jsonl"
        if not p.is_file():
            return []
        out = []
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    def begin_upload(self, case_id: str, original_name: str, client_type: str, limits: Limits) -> PendingUpload:
        self.case_dir(case_id)
        return PendingUpload(self, case_id, original_name, client_type, limits)

    def publish(self, uploads: list[PendingUpload], who: str = "") -> list[dict[str, Any]]:
        """Move finished uploads into the case folder under their generated names and log each one."""
        if not uploads:
            return []
        case_id = uploads[0].case_id
        d = self.case_dir(case_id)
        records = []
        with self._case_lock(case_id):
            log = self.state_dir(case_id) / "intake.jsonl"
            with open(log, "a", encoding="utf-8") as f:
                for up in uploads:
                    dg = up.digests()
                    kind, fmt = sniff(up.head)
                    stored = f"{dg['sha256'][:16]}.{EXTENSIONS.get(fmt, 'bin')}"
                    target = d / stored
                    duplicate = target.exists()
                    if duplicate:
                        up.discard()
                    else:
                        os.rename(up.tmp_path, target)
                    rec = {"time_utc": utc_now(), "event": "UPLOAD", "original_name": up.original_name,
                           "stored_name": stored, "size": up.size, **dg, "kind": kind, "format": fmt,
                           "client_content_type": up.client_type, "duplicate_of_existing": duplicate, "by": who}
                    f.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
                    records.append(rec)
                f.flush()
                os.fsync(f.fileno())
        return records

    # ------------------------------------------------------------------ references
    def references(self, case_id: str) -> list[str]:
        p = self.state_dir(case_id) / "references.json"
        if not p.is_file():
            return []
        try:
            return [str(x) for x in json.loads(p.read_text(encoding="utf-8"))]
        except ValueError:
            return []

    def add_reference(self, case_id: str, folder: str) -> str:
        """Point the case at an existing folder on this machine (analysed in place, never written to)."""
        folder = (folder or "").strip()
        if not folder or "\x00" in folder:
            raise StoreError("give the path of an existing folder")
        path = os.path.realpath(os.path.expanduser(folder))
        if not os.path.isdir(path):
            raise StoreError(f"folder not found: {display_original(folder)}")
        real_root = os.path.realpath(self.root)
        if path == real_root or path.startswith(real_root + os.sep) or real_root.startswith(path + os.sep):
            raise StoreError("a referenced folder must be outside the cases folder (add files by upload instead)")
        with self._case_lock(case_id):
            refs = self.references(case_id)
            if path not in refs:
                refs.append(path)
                p = self.state_dir(case_id) / "references.json"
                tmp = p.with_suffix(".tmp")
                tmp.write_text(json.dumps(refs, indent=1, ensure_ascii=False), encoding="utf-8")
                os.replace(tmp, p)
                with open(self.state_dir(case_id) / "intake.jsonl", "a", encoding="utf-8") as f:
                    f.write(json.dumps({"time_utc": utc_now(), "event": "REFERENCE", "folder": path}) + "\n")
        return path

    def source_dir(self, case_id: str, source: str | None) -> Path:
        """The folder an analysis reads: ``uploads`` (the case folder) or one of the case's references."""
        if not source or source == "uploads":
            return self.case_dir(case_id)
        refs = self.references(case_id)
        if source not in refs:
            raise StoreError("that folder is not a reference of this case")
        return Path(source)
