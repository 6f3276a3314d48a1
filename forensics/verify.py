"""``forensics verify``: re-check a report folder and, optionally, the evidence itself.

What is checked, in order:

* every ``manifest.sha256`` entry: a plain file inside the report folder (an entry such as
  ``../../etc/hostname``, an absolute path or a symbolic link is REFUSED, never read), with the listed
  SHA-256; files in the folder that the manifest does not list; an ``INCOMPLETE`` marker;
* ``findings.json`` against the SHA-256 that ``report.html`` embeds;
* the seal: ``--manifest-sha256 HEX`` (the value ``analyze`` printed) and/or ``--public-key KEY.pub``
  (the Ed25519 signature ``manifest.sha256.sig``). Without either, a passing report is only
  *self-consistent*: whoever can edit the folder can regenerate the manifest;
* with ``--case``: every evidence file re-hashed (SHA-256, SHA-1, MD5), ``case.toml``'s hash, files
  that are new, and the items that cannot be verified (links, special files, unreadable files) listed
  as such instead of counted as passed.

Evidence and report files are opened as evidence is (:func:`forensics.case.open_evidence`): no link
followed, a named pipe refused without blocking.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from forensics.case import display_name, hash_path, open_evidence, read_small_file, safe_name
from forensics.report import (
    INCOMPLETE,
    MANIFEST,
    SIGNATURE,
    embedded_findings_digest,
    manifest_entry_inside,
)


@dataclass
class VerifyResult:
    ok: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)  # could not be checked (links, special files, ...)
    seal: str = ""  # how far the report can be trusted not to have been re-sealed

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def complete(self) -> bool:
        return not self.problems and not self.unverified


def _read_file(path: str, limit: int = 1 << 31) -> bytes:
    fd = open_evidence(path)
    with os.fdopen(fd, "rb") as f:
        return f.read(limit)


def _sha256_file(path: str) -> str:
    h, _ = hash_path(path)
    return h.sha256


def verify(out_dir: Path, case_dir: Path | None = None, manifest_sha256: str | None = None,
           public_key: Path | None = None) -> VerifyResult:
    res = VerifyResult()
    out_dir = Path(os.path.abspath(out_dir))
    try:
        manifest_bytes = read_small_file(str(out_dir / MANIFEST), limit=64 << 20)
    except FileNotFoundError:
        res.problems.append(f"{MANIFEST} not found in {safe_name(str(out_dir))}")
        if os.path.lexists(out_dir / INCOMPLETE):
            res.problems.append(f"output {INCOMPLETE}: the report folder is marked incomplete (writing was interrupted)")
        return res
    except OSError as exc:
        res.problems.append(f"{MANIFEST} cannot be read: {exc.strerror or exc}")
        return res
    try:
        lines = manifest_bytes.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        res.problems.append(f"{MANIFEST} is not UTF-8 text")
        return res
    manifest: dict[str, str] = {}
    for line in lines:
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            res.problems.append(f"{MANIFEST}: malformed line {safe_name(line)!s}")
            continue
        manifest[name] = digest

    # ---- outputs
    for name, digest in sorted(manifest.items()):
        shown = safe_name(name)
        if not manifest_entry_inside(out_dir, name):
            res.problems.append(f"output {shown}: REFUSED, the manifest names a file outside the report folder")
            continue
        p = os.path.join(out_dir, name)
        if not os.path.lexists(p):
            res.problems.append(f"output {shown}: MISSING")
            continue
        try:
            actual = _sha256_file(p)
        except OSError as exc:
            res.problems.append(f"output {shown}: cannot be read ({exc.strerror or exc})")
            continue
        if actual == digest:
            res.ok.append(f"output {shown}: matches")
        else:
            res.problems.append(f"output {shown}: MODIFIED (sha256 {actual}, manifest {digest})")
    for root, dirs, files in os.walk(out_dir):
        dirs.sort()
        for fn in sorted(files) + sorted(d for d in dirs if os.path.islink(os.path.join(root, d))):
            rel = os.path.relpath(os.path.join(root, fn), out_dir)
            if rel == INCOMPLETE:
                res.problems.append(f"output {INCOMPLETE}: the report folder is marked incomplete (writing was interrupted)")
            elif rel not in (MANIFEST, SIGNATURE) and rel not in manifest:
                res.problems.append(f"output {safe_name(rel)}: not listed in the manifest")

    # ---- findings.json bound to report.html
    try:
        findings_bytes = _read_file(str(out_dir / "findings.json"))
        html = _read_file(str(out_dir / "report.html")).decode("utf-8", "replace")
        embedded = embedded_findings_digest(html)
        actual = hashlib.sha256(findings_bytes).hexdigest()
        if embedded is None:
            res.unverified.append("report.html embeds no SHA-256 of findings.json (written by an older version)")
        elif embedded == actual:
            res.ok.append(f"findings.json: matches the SHA-256 embedded in report.html ({actual[:16]}…)")
        else:
            res.problems.append(f"findings.json: sha256 {actual} differs from the {embedded} embedded in report.html")
    except OSError as exc:
        findings_bytes = None
        res.problems.append(f"report.html / findings.json cannot be read: {exc.strerror or exc}")

    # ---- seal
    mhash = hashlib.sha256(manifest_bytes).hexdigest()
    sealed = []
    if manifest_sha256:
        if manifest_sha256.strip().lower() == mhash:
            res.ok.append(f"{MANIFEST}: sha256 {mhash} is the value given (--manifest-sha256)")
            sealed.append("manifest SHA-256 matches the recorded value")
        else:
            res.problems.append(f"{MANIFEST}: sha256 {mhash}, NOT the value given ({manifest_sha256.strip()}): "
                                "the report was re-sealed or is another report")
    sig_path = out_dir / SIGNATURE
    if public_key is not None:
        from forensics.keys import SigningKeyError, check_signature, load_public

        try:
            pub = load_public(public_key)
        except SigningKeyError as exc:
            res.problems.append(str(exc))
            pub = None
        if pub is not None:
            try:
                sig = read_small_file(str(sig_path))
            except FileNotFoundError:
                sig = None
                res.problems.append(f"{SIGNATURE} not found: the report is not signed")
            except OSError as exc:
                sig = None
                res.problems.append(f"{SIGNATURE} cannot be read: {exc.strerror or exc}")
            if sig is not None:
                chk = check_signature(manifest_bytes, sig, pub)
                (res.ok if chk.ok else res.problems).append(chk.message)
                if chk.ok:
                    sealed.append("Ed25519 signature verifies")
    elif os.path.lexists(sig_path):
        res.unverified.append(f"{SIGNATURE} present but not checked (give --public-key)")
    res.seal = ("sealed: " + "; ".join(sealed)) if sealed else (
        "self-consistent only: without --manifest-sha256 or --public-key nothing shows that the manifest "
        "itself was not regenerated")

    if case_dir is None:
        return res

    # ---- evidence
    try:
        doc = json.loads(findings_bytes.decode("utf-8")) if findings_bytes is not None else None
    except (UnicodeDecodeError, ValueError) as exc:
        res.problems.append(f"findings.json unreadable: {exc}")
        return res
    if doc is None:
        return res
    case_dir = Path(os.path.abspath(case_dir))
    want_toml = (doc.get("case") or {}).get("case_toml_sha256")
    toml = case_dir / "case.toml"
    if want_toml:
        try:
            got = hashlib.sha256(read_small_file(str(toml))).hexdigest()
            if got == want_toml:
                res.ok.append(f"case.toml: matches (sha256 {got})")
            else:
                res.problems.append(f"case.toml: CHANGED (sha256 now {got}, report {want_toml})")
        except OSError as exc:
            res.problems.append(f"case.toml: cannot be read ({exc.strerror or exc}); the report recorded {want_toml}")
    elif os.path.lexists(toml):
        res.problems.append("case.toml: NEW (the report was made without one)")
    listed_paths = set()
    for it in doc.get("items", []):
        rel = os.fsdecode(bytes.fromhex(it["path_bytes_hex"])) if it.get("path_bytes_hex") else it["path"]
        listed_paths.add(rel)
        label = f"evidence {it['id']} {safe_name(it['path'])}"
        if not it.get("hashes"):
            res.unverified.append(f"{label}: not verifiable ({it.get('kind', '?')}; never hashed: "
                                  f"{safe_name('; '.join(it.get('messages', [])[:1]) or 'no content')})")
            continue
        path = os.path.join(case_dir, rel)
        try:
            h, _ = hash_path(path)
        except OSError as exc:
            res.problems.append(f"{label}: cannot read ({exc.strerror or exc})")
            continue
        want = it["hashes"]
        if h.sha256 == want["sha256"] and h.md5 == want["md5"] and h.sha1 == want["sha1"]:
            res.ok.append(f"{label}: matches (sha256 {h.sha256})")
        else:
            res.problems.append(f"{label}: CHANGED (sha256 now {h.sha256}, report {want['sha256']})")
    for root, dirs, files in os.walk(case_dir):
        dirs.sort()
        for fn in sorted(files):
            rel = os.path.relpath(os.path.join(root, fn), case_dir)
            if rel != "case.toml" and rel not in listed_paths:
                res.problems.append(f"evidence {safe_name(display_name(rel))}: NEW file, not in the report")
    return res
