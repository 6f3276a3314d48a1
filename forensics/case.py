"""Case intake: walk the case folder, classify files by content, hash them, keep custody.

Evidence is only ever opened read-only (``O_RDONLY | O_NOFOLLOW``, plus ``O_NOATIME``
where the kernel allows it, so reading does not even change the access time).
Symbolic links are never followed: each is listed with where it points.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import platform
import shlex
import socket
import stat
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import tomllib

from forensics import __version__

CHUNK = 4 << 20

IMAGE_FORMATS = {"jpeg", "png", "tiff", "webp", "bmp", "gif"}
VIDEO_FORMATS = {"mp4", "mov", "avi", "mkv", "webm"}


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def display_name(path: str) -> str:
    """A printable form of a file-system path: undecodable bytes become ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


# --------------------------------------------------------------------------- classify
def sniff(head: bytes) -> tuple[str, str]:
    """Classify a file by its first bytes. Returns ``(kind, format)``.

    ``kind`` is ``image``, ``video``, ``document``, ``empty`` or ``unknown``.

    >>> sniff(b"\\xff\\xd8\\xff\\xe0\\x00\\x10JFIF")
    ('image', 'jpeg')
    """
    if not head:
        return "empty", "empty"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image", "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video", "avi"
    if head[:2] == b"BM" and len(head) >= 26:
        return "image", "bmp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video", "mov"
        if brand in (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1"):
            return "unknown", "heif/avif"
        return "video", "mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "video", "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "webm" if b"webm" in head[:64] else "mkv"
    if head.startswith(b"%PDF"):
        return "document", "pdf"
    try:
        head.decode("utf-8")
        if all(c >= 0x20 or c in b"\t\r\n\f" for c in head):
            return "document", "text"
    except UnicodeDecodeError:
        pass
    return "unknown", "unknown"


# --------------------------------------------------------------------------- hashing
def open_evidence(path: str) -> int:
    """Open ``path`` read-only, without following a symlink, preserving atime if allowed."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    if noatime:
        try:
            return os.open(path, flags | noatime)
        except PermissionError:
            pass  # O_NOATIME needs file ownership; fall back to a plain read-only open
    return os.open(path, flags)


@dataclass
class Hashes:
    sha256: str
    sha1: str
    md5: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "sha1": self.sha1, "md5": self.md5, "size": self.size}


def hash_fd(fd: int, chunk: int = CHUNK) -> tuple[Hashes, bytes]:
    """SHA-256, SHA-1 and MD5 of an open file in one streaming pass.

    The three digests run in parallel threads (hashlib releases the GIL on large
    buffers) while the next chunk is read. Returns the hashes and the first 64 bytes.
    """
    algos = [hashlib.sha256(), hashlib.sha1(), hashlib.md5()]
    bufs = [bytearray(chunk), bytearray(chunk)]
    size = 0
    head = b""
    with os.fdopen(fd, "rb", buffering=0, closefd=False) as f, ThreadPoolExecutor(len(algos)) as pool:
        n = f.readinto(bufs[0])
        cur = 0
        while n:
            view = memoryview(bufs[cur])[:n]
            if size == 0:
                head = bytes(view[:64])
            size += n
            futures = [pool.submit(h.update, view) for h in algos]
            nxt = 1 - cur
            n = f.readinto(bufs[nxt])
            for fu in futures:
                fu.result()
            cur = nxt
    return Hashes(algos[0].hexdigest(), algos[1].hexdigest(), algos[2].hexdigest(), size), head


def hash_path(path: str) -> tuple[Hashes, bytes]:
    fd = open_evidence(path)
    try:
        return hash_fd(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- items
@dataclass
class EvidenceItem:
    """One file found in the case folder. Holds metadata, never the file's contents."""

    id: str
    path: str  # absolute file-system path (str, may carry surrogate escapes)
    relpath: str  # display form relative to the case root
    relpath_raw: str = ""  # exact relative path (may carry surrogate escapes for non-UTF-8 bytes)
    kind: str = "unknown"  # image | video | document | empty | unknown | symlink | unreadable
    format: str = "unknown"
    size: int | None = None
    mtime_utc: str | None = None
    hashes: Hashes | None = None
    hashes_after: Hashes | None = None
    messages: list[str] = field(default_factory=list)
    symlink_target: str | None = None

    @property
    def is_media(self) -> bool:
        return self.kind in ("image", "video")

    @property
    def integrity(self) -> str:
        if self.hashes is None:
            return "not hashed"
        if self.hashes_after is None:
            return "not re-verified"
        if self.hashes_after.sha256 == self.hashes.sha256 and self.hashes_after.size == self.hashes.size:
            return "verified"
        return "CHANGED"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.relpath,
            "path_bytes_hex": os.fsencode(self.relpath_raw).hex(),
            "kind": self.kind,
            "format": self.format,
            "size": self.size,
            "mtime_utc": self.mtime_utc,
            "hashes": self.hashes.as_dict() if self.hashes else None,
            "hashes_after": self.hashes_after.as_dict() if self.hashes_after else None,
            "integrity": self.integrity,
            "messages": list(self.messages),
            "symlink_target": self.symlink_target,
        }


@dataclass
class CaseInfo:
    root: Path
    case_id: str = ""
    examiner: str = ""
    agency: str = ""
    description: str = ""
    case_toml_sha256: str | None = None
    messages: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "examiner": self.examiner,
            "agency": self.agency,
            "description": self.description,
            "root": display_name(str(self.root)),
            "case_toml_sha256": self.case_toml_sha256,
            "messages": self.messages,
        }


def read_case_info(root: Path, case_id: str | None = None, examiner: str | None = None) -> CaseInfo:
    """Read optional ``case.toml`` (``case_id``/``case_number``, ``examiner``, ``agency``,
    ``description``). Command-line values override it."""
    info = CaseInfo(root=root)
    toml_path = root / "case.toml"
    if toml_path.is_file() and not toml_path.is_symlink():
        try:
            raw = toml_path.read_bytes()
            info.case_toml_sha256 = hashlib.sha256(raw).hexdigest()
            data = tomllib.loads(raw.decode("utf-8"))
            section = data.get("case", data)
            info.case_id = str(section.get("case_id", section.get("case_number", section.get("number", ""))))
            info.examiner = str(section.get("examiner", ""))
            info.agency = str(section.get("agency", ""))
            info.description = str(section.get("description", ""))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            info.messages.append(f"case.toml could not be read: {exc}")
    if case_id:
        info.case_id = case_id
    if examiner:
        info.examiner = examiner
    return info


def _walk(root: Path, exclude: set[str]) -> Iterator[tuple[str, os.DirEntry | None, str | None]]:
    """Yield ``(path, entry, error)`` for every non-directory entry, never following links."""
    stack = [str(root)]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: os.fsencode(e.name))
        except OSError as exc:
            yield d, None, f"folder could not be listed: {exc.strerror or exc}"
            continue
        subdirs = []
        for e in entries:
            if os.path.realpath(e.path) in exclude and not e.is_symlink():
                continue
            if e.is_dir(follow_symlinks=False):
                subdirs.append(e.path)
            else:
                yield e.path, e, None
        stack.extend(reversed(subdirs))


def scan_case(root: Path, exclude: list[Path] | None = None) -> list[EvidenceItem]:
    """List the evidence files under ``root`` in a deterministic order (without hashing)."""
    root = Path(os.path.abspath(root))
    excl = {os.path.realpath(p) for p in (exclude or [])}
    excl.add(os.path.realpath(root / "case.toml"))
    items: list[EvidenceItem] = []
    real_root = os.path.realpath(root)
    found = sorted(_walk(root, excl), key=lambda t: os.fsencode(os.path.relpath(t[0], root)))
    for path, entry, error in found:
        rel_raw = os.path.relpath(path, root)
        item = EvidenceItem(id=f"E{len(items) + 1:04d}", path=path, relpath=display_name(rel_raw), relpath_raw=rel_raw)
        if error:
            item.kind = item.format = "unreadable"
            item.messages.append(error)
        elif entry is not None and entry.is_symlink():
            target = os.readlink(path)
            resolved = os.path.realpath(path)
            inside = resolved == real_root or resolved.startswith(real_root + os.sep)
            item.kind, item.format = "symlink", "symlink"
            item.symlink_target = display_name(target)
            where = "inside the case" if inside else "OUTSIDE the case folder"
            item.messages.append(
                f"symbolic link to {display_name(target)} ({where}); links are not followed, the link itself is not evidence"
            )
        else:
            try:
                st = os.lstat(path)
                if not stat.S_ISREG(st.st_mode):
                    item.kind = item.format = "special"
                    item.messages.append("not a regular file (device, socket or pipe); skipped")
                else:
                    item.size = st.st_size
                    item.mtime_utc = (
                        datetime.fromtimestamp(st.st_mtime, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
                    )
            except OSError as exc:
                item.kind = item.format = "unreadable"
                item.messages.append(f"cannot stat: {exc.strerror or exc}")
        items.append(item)
    return items


def hash_item(item: EvidenceItem, after: bool = False) -> None:
    """Hash an item (before analysis, or again ``after`` it) and classify it by content."""
    if item.kind in ("symlink", "special") or (item.kind == "unreadable" and item.size is None):
        return
    try:
        hashes, head = hash_path(item.path)
    except OSError as exc:
        msg = f"cannot read file: {exc.strerror or exc}"
        if after:
            item.messages.append(f"re-verification failed: {msg}")
        else:
            item.kind = item.format = "unreadable"
            item.messages.append(msg)
        return
    if after:
        item.hashes_after = hashes
        if item.integrity == "CHANGED":
            item.messages.append(
                "INTEGRITY FAILURE: the file changed during analysis "
                f"(SHA-256 before {item.hashes.sha256}, after {hashes.sha256})"
            )
        return
    item.hashes = hashes
    item.size = hashes.size
    item.kind, item.format = sniff(head)
    if item.kind == "empty":
        item.messages.append("empty file (0 bytes): nothing to analyse")
    elif item.kind == "document":
        item.messages.append(f"not an image or video (content is {item.format}); no detector applies")
    elif item.kind == "unknown":
        ext = os.path.splitext(item.relpath)[1].lower()
        hint = f" although its name ends in {ext}" if ext else ""
        item.messages.append(
            f"content not recognised as a supported image or video format{hint} (first bytes {head[:8].hex()})"
        )


# --------------------------------------------------------------------------- custody
class CustodyLog:
    """Append-only chain-of-custody record: UTC timestamps, who, what, with which tool."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def event(self, what: str, **fields: Any) -> None:
        parts = [utc_now(), what]
        parts += [f"{k}={shlex.quote(display_name(str(v)))}" for k, v in fields.items()]
        self.lines.append(" ".join(parts))

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def environment() -> dict[str, str]:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        user = str(os.getuid())
    return {
        "tool": f"forensics {__version__}",
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "user": user,
        "command_line": shlex.join(display_name(a) for a in sys.argv),
    }
