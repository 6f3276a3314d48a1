"""Case intake: walk the case folder, classify files by content, hash them, keep custody.

Evidence is only ever opened read-only (``O_RDONLY | O_NOFOLLOW | O_NONBLOCK``, plus ``O_NOATIME``
where the kernel allows it, so reading does not even change the access time). What was opened must
be a regular file (checked with ``fstat`` on the open descriptor, so a named pipe swapped in cannot
hang the run); then ``O_NONBLOCK`` is cleared. Symbolic links are never followed: each is listed with
where it points.

Binding findings to the hashed bytes (:data:`BINDING_GUARANTEE`): the identity of the file
(device, inode, size, mtime_ns, ctime_ns; :class:`FileIdentity`) is taken from the descriptor that
hashed it; every later open (decoders, the re-hash) compares its own descriptor's identity and a
mismatch is an integrity failure. Images are decoded from bytes that are hashed again in memory.

The custody log is JSON Lines (:class:`CustodyLog`): one object per event, every string escaped.
"""

from __future__ import annotations

import errno
import fcntl
import getpass
import hashlib
import io
import os
import platform
import shlex
import socket
import stat
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import tomllib

from forensics import __version__
from forensics.textsafe import has_hidden_characters, json_line, safe_text

CHUNK = 4 << 20

IMAGE_FORMATS = {"jpeg", "png", "tiff", "webp", "bmp", "gif"}
VIDEO_FORMATS = {"mp4", "mov", "avi", "mkv", "webm"}


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def display_name(path: str) -> str:
    """A printable form of a file-system path: undecodable bytes become ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def safe_name(path: str) -> str:
    """:func:`display_name` with control, bidi and invisible characters shown as escapes (``\\u202e``)."""
    return safe_text(display_name(path))


BINDING_GUARANTEE = (
    "images: decoded from bytes read through one descriptor whose identity matched the hashing descriptor and "
    "whose SHA-256 was recomputed in memory and equals the intake hash; videos: the decoder reads through a "
    "reader that serves only 4 MiB blocks whose SHA-256 equals the block digest computed in the intake hashing "
    "pass, and every decoder open checks, when it opens and when it closes, that its descriptor has the "
    "identity (device, inode, size, mtime_ns, ctime_ns) of the hashing descriptor; every item is re-hashed and "
    "its identity re-checked after analysis, so bytes swapped in and restored show as a changed ctime. Any "
    "mismatch is an INTEGRITY FAILURE."
)


# --------------------------------------------------------------------------- classify
def _is_text(head: bytes) -> bool:
    """UTF-8 text without control characters (a multi-byte character cut at the end is allowed)."""
    for cut in range(4):
        try:
            text = head[: len(head) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    else:
        return False
    return all(c >= " " or c in "\t\r\n\f" for c in text)


_BMP_DIB_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}
_QT_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot", b"ftyp", b"uuid", b"junk", b"PICT"}


def _u32be(b: bytes) -> int:
    return int.from_bytes(b, "big")


def _u32le(b: bytes) -> int:
    return int.from_bytes(b, "little")


def sniff(head: bytes, size: int | None = None) -> tuple[str, str]:
    """Classify a file by its first bytes (``size``: the file's size, when known). Returns ``(kind, format)``.

    ``kind`` is ``image``, ``video``, ``document``, ``empty`` or ``unknown``. Short signatures (``BM``,
    QuickTime atom names) are only believed when the header fields after them are consistent (BMP: a
    known DIB header size and a pixel offset inside the file; QuickTime: a plausible atom size and no
    text), so a text file starting ``BM`` or with ``free`` at byte 4 is not called an image or a video.

    >>> sniff(b"\\xff\\xd8\\xff\\xe0\\x00\\x10JFIF")
    ('image', 'jpeg')
    >>> sniff(b"BMW service notes, 2026 edition, page 1 of 3")
    ('document', 'text')
    """
    if not head:
        return "empty", "empty"
    n = len(head)
    if head.startswith(b"\xff\xd8\xff") and (n < 4 or 0xC0 <= head[3] <= 0xFE):
        return "image", "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n") and (n < 16 or head[12:16] == b"IHDR"):
        return "image", "png"
    if head[:4] in (b"II*\x00", b"MM\x00*") and n >= 8:
        off = _u32le(head[4:8]) if head[0] == 0x49 else _u32be(head[4:8])
        if off >= 8 and (size is None or off < size):
            return "image", "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and (n < 16 or head[12:15] == b"VP8"):
        return "image", "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video", "avi"
    if head[:2] == b"BM" and n >= 26:
        dib, pix_off = _u32le(head[14:18]), _u32le(head[10:14])
        if dib in _BMP_DIB_SIZES and pix_off >= 14 + dib and (size is None or pix_off <= size):
            return "image", "bmp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if head[4:8] == b"ftyp" and 12 <= _u32be(head[:4]) <= 4096 and (size is None or _u32be(head[:4]) <= size) \
            and all(48 <= c < 123 or c == 32 for c in head[8:12]):
        brand = head[8:12]
        if brand == b"qt  ":
            return "video", "mov"
        if brand in (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1"):
            return "unknown", "heif/avif"
        return "video", "mp4"
    if head[4:8] in _QT_ATOMS and head[4:8] != b"ftyp" and not _is_text(head):
        atom = _u32be(head[:4])
        plausible = atom in (0, 1) if head[4:8] == b"mdat" else False
        if atom >= 8 and (size is None or atom <= size):
            nxt = head[atom + 4: atom + 8] if atom + 8 <= n else b""
            plausible = not nxt or nxt in _QT_ATOMS
        if plausible:
            return "video", "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "webm" if b"webm" in head[:64] else "mkv"
    if head.startswith(b"%PDF-"):
        return "document", "pdf"
    if _is_text(head):
        return "document", "text"
    return "unknown", "unknown"


_EXTENSION_FORMATS = {
    ".jpg": {"jpeg"}, ".jpeg": {"jpeg"}, ".jpe": {"jpeg"}, ".jfif": {"jpeg"}, ".png": {"png"},
    ".tif": {"tiff"}, ".tiff": {"tiff"}, ".webp": {"webp"}, ".bmp": {"bmp"}, ".gif": {"gif"},
    ".mp4": {"mp4", "mov"}, ".m4v": {"mp4", "mov"}, ".mov": {"mov", "mp4"}, ".avi": {"avi"},
    ".mkv": {"mkv", "webm"}, ".webm": {"webm", "mkv"},
}


# --------------------------------------------------------------------------- hashing
class NotRegularFile(OSError):
    """The path is a named pipe, device or socket (found through ``fstat`` of the open descriptor)."""


def open_evidence(path: str) -> int:
    """Open ``path`` read-only, without following a symlink, preserving atime if allowed.

    The open is non-blocking (a named pipe swapped in for evidence cannot hang it); the descriptor
    must be a regular file (``fstat`` after the open, so there is no check-then-open race), else
    :class:`NotRegularFile` is raised; then ``O_NONBLOCK`` is cleared for ordinary reads.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    fd = -1
    if noatime:
        try:
            fd = os.open(path, flags | noatime)
        except PermissionError:
            pass  # O_NOATIME needs file ownership; fall back to a plain read-only open
    if fd < 0:
        fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("named pipe" if stat.S_ISFIFO(st.st_mode) else "socket" if stat.S_ISSOCK(st.st_mode)
                    else "device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "special file")
            raise NotRegularFile(errno.EINVAL, f"not a regular file ({kind})")
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


@dataclass(frozen=True)
class FileIdentity:
    """What ``fstat`` says about an open evidence file; equal identities mean the same, unchanged file."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int
    nlink: int = 1

    @classmethod
    def of(cls, fd_or_stat: int | os.stat_result) -> "FileIdentity":
        st = os.fstat(fd_or_stat) if isinstance(fd_or_stat, int) else fd_or_stat
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_nlink)

    def differences(self, other: "FileIdentity") -> list[str]:
        """Names of the fields (link count aside) that differ."""
        return [k for k in ("device", "inode", "size", "mtime_ns", "ctime_ns") if getattr(self, k) != getattr(other, k)]

    def as_dict(self) -> dict[str, int]:
        return {"device": self.device, "inode": self.inode, "size": self.size, "mtime_ns": self.mtime_ns,
                "ctime_ns": self.ctime_ns, "nlink": self.nlink}


@dataclass
class Hashes:
    sha256: str
    sha1: str
    md5: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "sha1": self.sha1, "md5": self.md5, "size": self.size}


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def hash_pool() -> ThreadPoolExecutor:
    """The one thread pool that runs the three digests of large files (created once per process)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(3, thread_name_prefix="forensics-hash")
        return _POOL


def _block_digest(view) -> bytes:
    return hashlib.sha256(view).digest()


def hash_fd(fd: int, chunk: int = CHUNK, head_size: int = 64, blocks: list[bytes] | None = None,
            want_blocks: Any = None) -> tuple[Hashes, bytes]:
    """SHA-256, SHA-1 and MD5 of an open file in one streaming pass.

    A file that fits in one chunk is hashed inline. Larger files run the three digests in the shared
    :func:`hash_pool` (hashlib releases the GIL on large buffers) while the next chunk is read.
    Returns the hashes and the first ``head_size`` bytes (at most one chunk). With ``blocks`` (a list),
    the SHA-256 of every ``chunk``-byte block is appended to it in the same pass (used to check what a
    decoder reads, :class:`VerifiedReader`); it is left empty when the reads were not block-aligned.
    ``want_blocks(first_bytes)``, when given, decides after the first chunk whether blocks are wanted.
    """
    algos = [hashlib.sha256(), hashlib.sha1(), hashlib.md5()]
    size = 0
    head = b""
    with os.fdopen(fd, "rb", buffering=0, closefd=False) as f:
        if os.fstat(fd).st_size < chunk:  # small file: read it whole, hash inline, no big buffers, no threads
            data = bytearray()
            while len(data) <= chunk:
                b = f.read(chunk + 1 - len(data))
                if not b:
                    break
                data += b
            for h in algos:
                h.update(data)
            size, head = len(data), bytes(data[:head_size])
            if len(data) <= chunk:
                if blocks is not None and data:
                    blocks.append(algos[0].copy().digest())
                return Hashes(algos[0].hexdigest(), algos[1].hexdigest(), algos[2].hexdigest(), size), head
            blocks = None  # the file grew while it was read: no block digests
        # large file (or one that grew): pipelined, the digests run in the shared pool
        pool = hash_pool()
        bufs = [bytearray(chunk), bytearray(chunk)]
        cur = 0
        n = f.readinto(bufs[0])
        if size == 0:
            head = bytes(memoryview(bufs[0])[:min(n, head_size)])
            if blocks is not None and want_blocks is not None and not want_blocks(head):
                blocks = None
        aligned = True
        while n:
            view = memoryview(bufs[cur])[:n]
            size += n
            futures = [pool.submit(h.update, view) for h in algos]
            block = pool.submit(_block_digest, view) if blocks is not None else None
            nxt = 1 - cur
            short = n < chunk
            n = f.readinto(bufs[nxt])  # read the next chunk while this one is hashed
            aligned = aligned and not (short and n)
            for fu in futures:
                fu.result()
            if block is not None:
                blocks.append(block.result())
            cur = nxt
        if blocks is not None and not aligned:
            blocks.clear()
    return Hashes(algos[0].hexdigest(), algos[1].hexdigest(), algos[2].hexdigest(), size), head


def hash_path(path: str) -> tuple[Hashes, bytes]:
    fd = open_evidence(path)
    try:
        return hash_fd(fd)
    finally:
        os.close(fd)


def hash_open(path: str, head_size: int = 64, blocks: list[bytes] | None = None,
              want_blocks: Any = None) -> tuple[Hashes, bytes, FileIdentity, FileIdentity]:
    """Hash ``path``; also return the descriptor's identity before and after hashing."""
    fd = open_evidence(path)
    try:
        before = FileIdentity.of(fd)
        hashes, head = hash_fd(fd, head_size=head_size, blocks=blocks, want_blocks=want_blocks)
        after = FileIdentity.of(fd)
    finally:
        os.close(fd)
    return hashes, head, before, after


class VerifiedReader(io.RawIOBase):
    """A read-only file over an evidence descriptor that serves only bytes matching the intake hashing.

    Reads are served from whole ``CHUNK``-byte blocks fetched with ``pread`` and checked against the
    per-block SHA-256 recorded by :func:`hash_fd` in the intake pass; a block that differs raises
    :class:`OSError` and records an integrity failure on the item. So every byte a video decoder sees
    is a byte that was hashed, whatever happens to the file meanwhile.
    """

    def __init__(self, fd: int, item: "EvidenceItem", cache_blocks: int = 3) -> None:
        super().__init__()
        self._fd, self._item, self._pos = fd, item, 0
        self._size = item.hashes.size if item.hashes else os.fstat(fd).st_size
        self._cache: dict[int, bytes] = {}
        self._cache_blocks = cache_blocks
        self.blocks_checked = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _block(self, k: int) -> bytes:
        if k in self._cache:
            return self._cache[k]
        data = os.pread(self._fd, CHUNK, k * CHUNK)
        blocks = self._item.block_sha256
        if k >= len(blocks) or hashlib.sha256(data).digest() != blocks[k]:
            msg = (f"INTEGRITY FAILURE: bytes {k * CHUNK:,}-{k * CHUNK + len(data):,} read for decoding differ from "
                   "the bytes hashed at intake; they were not analysed")
            if msg not in self._item.binding_problems:
                self._item.binding_problems.append(msg)
                self._item.messages.append(msg)
            raise OSError(errno.EIO, "evidence bytes differ from the hashed bytes")
        self.blocks_checked += 1
        if len(self._cache) >= self._cache_blocks:
            self._cache.pop(next(iter(self._cache)))
        self._cache[k] = data
        return data

    def readinto(self, buf) -> int:
        view = memoryview(buf).cast("B")
        done = 0
        while done < len(view) and self._pos < self._size:
            k, off = divmod(self._pos, CHUNK)
            data = self._block(k)
            n = min(len(view) - done, len(data) - off, self._size - self._pos)
            if n <= 0:
                break
            view[done:done + n] = data[off:off + n]
            self._pos += n
            done += n
        return done

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


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
    identity: FileIdentity | None = None  # fstat of the hashing descriptor (kept out of findings.json)
    identity_after: FileIdentity | None = None  # fstat of the re-hashing descriptor
    binding_problems: list[str] = field(default_factory=list)  # identity mismatches seen by decoders
    binding_checks: int = 0  # how many later opens compared their identity with the hashing one
    block_sha256: list[bytes] = field(default_factory=list)  # SHA-256 of every CHUNK-byte block (intake pass)
    hidden_characters: bool = False  # the file name holds control / bidi / invisible characters

    @property
    def is_media(self) -> bool:
        return self.kind in ("image", "video")

    @property
    def integrity(self) -> str:
        if self.hashes is None:
            return "not hashed"
        if self.binding_problems:
            return "CHANGED"
        if self.hashes_after is None:
            return "not re-verified"
        if self.hashes_after.sha256 != self.hashes.sha256 or self.hashes_after.size != self.hashes.size:
            return "CHANGED"
        if self.identity and self.identity_after and self.identity.differences(self.identity_after):
            return "CHANGED"
        return "verified"

    def check_identity(self, fd: int, where: str) -> bool:
        """Compare the identity of ``fd`` (an open of this item) with the hashing descriptor's.

        A mismatch is recorded (integrity becomes CHANGED) and ``False`` returned; the caller must
        not analyse what it read.
        """
        if self.identity is None:
            return True
        self.binding_checks += 1
        now = FileIdentity.of(fd)
        diff = self.identity.differences(now)
        if not diff:
            return True
        msg = (f"INTEGRITY FAILURE: the file opened {where} is not the file that was hashed "
               f"({', '.join(f'{k} {getattr(self.identity, k)} -> {getattr(now, k)}' for k in diff)}); "
               "its findings would not belong to the hashed bytes")
        if msg not in self.binding_problems:
            self.binding_problems.append(msg)
            self.messages.append(msg)
        return False

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
            "hidden_characters": self.hidden_characters,
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
            # the folder's name only: reports carry no machine paths; the digest of the absolute path tells a
            # re-analysis of the same folder from another case's report (check_output_folder)
            "root": safe_name(Path(os.path.abspath(self.root)).name or str(self.root)),
            "root_id": hashlib.sha256(os.fsencode(os.path.abspath(self.root))).hexdigest()[:32],
            "case_toml_sha256": self.case_toml_sha256,
            "messages": self.messages,
        }


def read_small_file(path: str, limit: int = 1 << 20) -> bytes:
    """The bytes of a small regular file, opened as evidence is (no symlink, no pipe)."""
    fd = open_evidence(path)
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes")
    return data


def read_case_info(root: Path, case_id: str | None = None, examiner: str | None = None) -> CaseInfo:
    """Read optional ``case.toml`` (``case_id``/``case_number``, ``examiner``, ``agency``,
    ``description``). Command-line values override it."""
    info = CaseInfo(root=root)
    toml_path = root / "case.toml"
    raw = None
    try:
        raw = read_small_file(str(toml_path))
    except FileNotFoundError:
        pass
    except OSError as exc:
        why = "a symbolic link (not followed)" if exc.errno == errno.ELOOP else (exc.strerror or str(exc))
        info.messages.append(f"case.toml could not be read: {why}")
    if raw is not None:
        try:
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
        item = EvidenceItem(id=f"E{len(items) + 1:04d}", path=path, relpath=safe_name(rel_raw), relpath_raw=rel_raw)
        if has_hidden_characters(display_name(rel_raw)):
            item.hidden_characters = True
            item.messages.append(
                "the file name contains control, bidirectional or invisible characters, shown here as escapes "
                f"({item.relpath}); what a viewer displays for this name may differ from its real name; the exact "
                "bytes are in path_bytes_hex")
        if error:
            item.kind = item.format = "unreadable"
            item.messages.append(error)
        elif entry is not None and entry.is_symlink():
            target = os.readlink(path)
            resolved = os.path.realpath(path)
            inside = resolved == real_root or resolved.startswith(real_root + os.sep)
            item.kind, item.format = "symlink", "symlink"
            item.symlink_target = safe_name(target)
            where = "inside the case" if inside else "OUTSIDE the case folder"
            item.messages.append(
                f"symbolic link to {safe_name(target)} ({where}); links are not followed, the link itself is not evidence"
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


SNIFF_BYTES = 4096


def hash_item(item: EvidenceItem, after: bool = False) -> None:
    """Hash an item (before analysis, or again ``after`` it) and classify it by content.

    The identity of the hashing descriptor is kept (:attr:`EvidenceItem.identity`); the re-hash
    compares its own, so content swapped and restored during analysis is caught by its ctime.
    """
    if item.kind in ("symlink", "special") or (item.kind == "unreadable" and item.size is None):
        return
    try:
        blocks: list[bytes] = []
        hashes, head, before, ident = hash_open(item.path, head_size=SNIFF_BYTES, blocks=None if after else blocks,
                                                want_blocks=lambda h: sniff(h)[0] in ("image", "video"))
    except OSError as exc:
        msg = f"cannot read file: {exc.strerror or exc}"
        if after:
            item.messages.append(f"re-verification failed: {msg}")
            if isinstance(exc, (NotRegularFile, FileNotFoundError)) or exc.errno == errno.ELOOP:
                item.binding_problems.append(
                    f"INTEGRITY FAILURE: the file was removed or replaced during analysis ({msg})")
                item.messages.append(item.binding_problems[-1])
        else:
            item.kind = item.format = "special" if isinstance(exc, NotRegularFile) else "unreadable"
            item.messages.append(msg)
        return
    moved = before.differences(ident)
    if after:
        item.hashes_after = hashes
        item.identity_after = ident
        if item.hashes.sha256 != hashes.sha256 or item.hashes.size != hashes.size:
            item.messages.append(
                "INTEGRITY FAILURE: the file changed during analysis "
                f"(SHA-256 before {item.hashes.sha256}, after {hashes.sha256})"
            )
        elif item.identity and item.identity.differences(ident):
            diff = item.identity.differences(ident)
            item.messages.append(
                "INTEGRITY FAILURE: the file's content is the hashed content again, but the file was replaced or "
                f"written to during analysis ({', '.join(diff)} changed), so the findings may belong to other bytes"
            )
        return
    item.hashes = hashes
    item.size = hashes.size
    item.identity = ident
    item.block_sha256 = blocks
    if moved:
        item.binding_problems.append(f"INTEGRITY FAILURE: the file changed while it was being hashed ({', '.join(moved)})")
        item.messages.append(item.binding_problems[-1])
    item.kind, item.format = sniff(head, hashes.size)
    if ident.nlink > 1:
        item.messages.append(
            f"the file has {ident.nlink} hard links: the same bytes are reachable under another name, "
            "through which they can be changed")
    ext = os.path.splitext(display_name(item.relpath_raw or item.relpath))[1].lower()
    if item.kind == "empty":
        item.messages.append("empty file (0 bytes): nothing to analyse")
    elif item.kind == "document":
        item.messages.append(f"not an image or video (content is {item.format}); no detector applies")
    elif item.kind == "unknown":
        hint = f" although its name ends in {safe_text(ext)}" if ext else ""
        item.messages.append(
            f"content not recognised as a supported image or video format{hint} (first bytes {head[:8].hex()})"
        )
    elif ext in _EXTENSION_FORMATS and item.format not in _EXTENSION_FORMATS[ext]:
        item.messages.append(
            f"the name ends in {ext} but the content is {item.format}; it was classified and analysed by its content")


# --------------------------------------------------------------------------- custody
CUSTODY_FORMAT = "forensics.custody/2"


class CustodyLog:
    """Append-only chain-of-custody record: UTC timestamps, who, what, with which tool.

    Format (``forensics.custody/2``): JSON Lines, one object per event and line, with ``time`` (UTC,
    ISO 8601, milliseconds), ``event`` (upper-case name) and the event's fields. Every string is JSON
    escaped, and so are DEL, C1 controls, bidi and invisible characters (:func:`json_line`), so a file
    name can neither start a new line nor act on a terminal. The first line is the ``LOG_FORMAT`` event.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.event("LOG_FORMAT", format=CUSTODY_FORMAT,
                   doc="JSON Lines: one object per event; time is UTC; strings are JSON-escaped")

    def event(self, what: str, **fields: Any) -> None:
        rec: dict[str, Any] = {"time": utc_now(), "event": what}
        for k, v in fields.items():
            rec[k] = v if v is None or isinstance(v, (bool, int, float, dict, list)) else display_name(str(v))
        self.lines.append(json_line(rec))

    def events(self) -> list[dict[str, Any]]:
        import json

        return [json.loads(line) for line in self.lines]

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
        "command_line": portable_command_line(sys.argv),
    }


def portable_arg(a: str) -> str:
    """A command-line argument without a machine path: an absolute path (also as ``--opt=/path``) becomes its
    last component (``/cases/2026-17`` -> ``2026-17``); anything else is kept."""
    key, eq, val = a.partition("=")
    if eq and key.startswith("-") and os.path.isabs(val):
        return f"{key}={Path(val).name or val}"
    return (Path(a).name or a) if os.path.isabs(a) else a


def portable_command_line(argv: list[str]) -> str:
    """The command line as run, without machine paths: the program as ``forensics``, each argument through
    :func:`portable_arg`."""
    return shlex.join(display_name(a) for a in ["forensics", *(portable_arg(a) for a in argv[1:])])
