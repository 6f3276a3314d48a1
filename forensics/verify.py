"""``forensics verify``: re-check a report folder and, optionally, the evidence itself."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from forensics.case import display_name, hash_path
from forensics.report import MANIFEST, read_manifest


@dataclass
class VerifyResult:
    ok: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def verify(out_dir: Path, case_dir: Path | None = None) -> VerifyResult:
    res = VerifyResult()
    if not (out_dir / MANIFEST).is_file():
        res.problems.append(f"{MANIFEST} not found in {out_dir}")
        return res
    manifest = read_manifest(out_dir)
    for name, digest in sorted(manifest.items()):
        p = out_dir / name
        if not p.is_file():
            res.problems.append(f"output {name}: MISSING")
            continue
        actual = hashlib.sha256(p.read_bytes()).hexdigest()
        (res.ok if actual == digest else res.problems).append(
            f"output {name}: {'matches' if actual == digest else 'MODIFIED (sha256 ' + actual + ', manifest ' + digest + ')'}"
        )
    listed = set(manifest)
    for root, _dirs, files in os.walk(out_dir):
        for fn in files:
            rel = os.path.relpath(os.path.join(root, fn), out_dir)
            if rel != MANIFEST and rel not in listed and not fn.endswith(".tmp"):
                res.problems.append(f"output {rel}: not listed in the manifest")
    if case_dir is None:
        return res
    try:
        doc = json.loads((out_dir / "findings.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        res.problems.append(f"findings.json unreadable: {exc}")
        return res
    seen = set()
    for it in doc.get("items", []):
        if not it.get("hashes"):
            continue
        rel = os.fsdecode(bytes.fromhex(it["path_bytes_hex"])) if it.get("path_bytes_hex") else it["path"]
        seen.add(rel)
        path = os.path.join(case_dir, rel)
        try:
            h, _ = hash_path(path)
        except OSError as exc:
            res.problems.append(f"evidence {it['id']} {it['path']}: cannot read ({exc.strerror or exc})")
            continue
        if h.sha256 == it["hashes"]["sha256"] and h.md5 == it["hashes"]["md5"] and h.sha1 == it["hashes"]["sha1"]:
            res.ok.append(f"evidence {it['id']} {it['path']}: matches (sha256 {h.sha256})")
        else:
            res.problems.append(f"evidence {it['id']} {it['path']}: CHANGED (sha256 now {h.sha256}, report {it['hashes']['sha256']})")
    listed_paths = {os.fsdecode(bytes.fromhex(it["path_bytes_hex"])) for it in doc.get("items", []) if it.get("path_bytes_hex")}
    for root, dirs, files in os.walk(case_dir):
        dirs.sort()
        for fn in sorted(files):
            rel = os.path.relpath(os.path.join(root, fn), case_dir)
            if rel != "case.toml" and rel not in listed_paths:
                res.problems.append(f"evidence {display_name(rel)}: NEW file, not in the report")
    return res
