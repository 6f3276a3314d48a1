"""Intake and verify time for many small files and for one large file, beside ``sha256sum``.

Usage: python benchmarks/intake.py [--small 5000] [--small-bytes 2048] [--large-mb 1024] [--tmp /tmp]

Generates, under a temporary folder (never in the repository), case A with ``--small`` files of
``--small-bytes`` random bytes in 50 sub-folders and case B with one ``--large-mb`` MB file. For each
case it times, once, on a warm page cache (each file set is read once first):

* ``sha256sum`` over every file (one process, ``xargs``-batched for the small files);
* forensics intake alone (scan + SHA-256/SHA-1/MD5 + content sniffing: ``forensics.engine.intake``);
* ``analyze_case`` (intake, the re-hash after analysis, assembly; random bytes are not media, so no
  detector runs) and writing the report folder;
* ``forensics verify OUT --case CASE`` (manifest, findings digest, every evidence file re-hashed).

Prints one table. Figures depend on the machine and its load; the ratio to ``sha256sum`` is the point.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def warm(paths: list[str]) -> None:
    for p in paths:
        with open(p, "rb") as f:
            while f.read(8 << 20):
                pass


def sha256sum_all(root: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(f"find {root} -type f -print0 | xargs -0 sha256sum > /dev/null", shell=True, check=True)
    return time.perf_counter() - t0


def make_small(root: Path, n: int, size: int) -> list[str]:
    paths = []
    for i in range(n):
        d = root / f"d{i % 50:02d}"
        d.mkdir(parents=True, exist_ok=True)
        p = d / f"f{i:05d}.bin"
        p.write_bytes(os.urandom(size))
        paths.append(str(p))
    return paths


def make_large(root: Path, mb: int) -> list[str]:
    root.mkdir(parents=True, exist_ok=True)
    p = root / "large.bin"
    block = os.urandom(1 << 20)
    with open(p, "wb") as f:
        for _ in range(mb):
            f.write(block)
    return [str(p)]


def run_case(name: str, case: Path, out: Path, ps) -> dict[str, float]:
    from forensics.case import CustodyLog
    from forensics.engine import analyze_case, intake
    from forensics.report import write_outputs
    from forensics.verify import verify

    t_sum = sha256sum_all(case)
    t_intake, items = timed(lambda: intake(case, None, CustodyLog(), lambda *a: None))
    t_analyze, result = timed(lambda: analyze_case(case, plugins=ps))
    t_write, _ = timed(lambda: write_outputs(result, out))
    t_verify, res = timed(lambda: verify(out, case))
    assert res.passed, res.problems[:3]
    return {"files": len(items), "sha256sum": t_sum, "intake": t_intake, "analyze": t_analyze,
            "write": t_write, "verify": t_verify}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=5000)
    ap.add_argument("--small-bytes", type=int, default=2048)
    ap.add_argument("--large-mb", type=int, default=1024)
    ap.add_argument("--tmp", default=None, help="parent folder for the generated files [default: the system temp]")
    args = ap.parse_args()

    from forensics.plugins import load_plugins

    ps = load_plugins()  # loading plugins (torch imports) is not part of intake
    tmp = Path(tempfile.mkdtemp(prefix="forensics-intake-bench-", dir=args.tmp))
    try:
        small = make_small(tmp / "small_case", args.small, args.small_bytes)
        warm(small)
        rows = {f"{args.small} x {args.small_bytes} B": run_case("small", tmp / "small_case", tmp / "small_out", ps)}
        large = make_large(tmp / "large_case", args.large_mb)
        warm(large)
        rows[f"1 x {args.large_mb} MB"] = run_case("large", tmp / "large_case", tmp / "large_out", ps)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"{'case':<20}{'files':>7}{'sha256sum':>11}{'intake':>9}{'analyze*':>10}{'write':>8}{'verify':>9}"
          f"{'intake/sha256sum':>18}")
    for name, r in rows.items():
        print(f"{name:<20}{r['files']:>7}{r['sha256sum']:>10.2f}s{r['intake']:>8.2f}s{r['analyze']:>9.2f}s"
              f"{r['write']:>7.2f}s{r['verify']:>8.2f}s{r['intake'] / r['sha256sum']:>17.2f}x")
    print("intake = scan + SHA-256/SHA-1/MD5 + sniffing; analyze* = intake + re-hash after analysis + assembly "
          "(no media, so no detector); verify = forensics verify --case (re-hashes every file); warm page cache")


if __name__ == "__main__":
    main()
