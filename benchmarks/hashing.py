"""Hashing throughput: forensics' one-pass SHA-256 + SHA-1 + MD5 vs `sha256sum` alone.

Usage: python benchmarks/hashing.py [--size-mb 1024] [--path FILE]

Writes a file of random bytes (default 1 GiB, in a temporary folder unless --path is
given), reads it once to warm the page cache so both tools read from memory, then
times `sha256sum FILE` and forensics' `hash_path(FILE)` (three digests) on it and
prints both throughputs and their ratio. Each is timed 3 times; the best is kept.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import tempfile
import time

from forensics.case import hash_path


def best_of(n, fn):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--path", help="benchmark file (created if missing)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmpdir = None
    path = args.path
    if path is None:
        tmpdir = tempfile.mkdtemp(prefix="forensics-bench-")
        path = os.path.join(tmpdir, "bench.bin")
    try:
        if not os.path.exists(path) or os.path.getsize(path) != args.size_mb << 20:
            with open(path, "wb") as f:
                block = os.urandom(1 << 20)
                for i in range(args.size_mb):
                    f.write(hashlib.sha256(block + i.to_bytes(4, "little")).digest() + block[32:])
        size = os.path.getsize(path)
        with open(path, "rb") as f:  # warm the page cache
            while f.read(1 << 24):
                pass
        if shutil.which("sha256sum") is None:
            raise SystemExit("sha256sum not found")
        t_ref, out = best_of(args.repeat, lambda: subprocess.run(["sha256sum", path], check=True, capture_output=True,
                                                                 text=True).stdout.split()[0])
        t_ours, (h, _) = best_of(args.repeat, lambda: hash_path(path))
        assert h.sha256 == out, "digest mismatch"
        mb = size / 1e6
        print(f"file: {size:,} bytes (page cache warm), cores: {os.cpu_count()}, best of {args.repeat}")
        print(f"sha256sum (SHA-256 only):                 {t_ref:7.3f} s  {mb / t_ref:8.1f} MB/s")
        print(f"forensics hash_path (SHA-256+SHA-1+MD5):  {t_ours:7.3f} s  {mb / t_ours:8.1f} MB/s")
        print(f"ratio forensics / sha256sum throughput:   {t_ref / t_ours:7.2f}")
        print(f"sha256 {h.sha256}\nsha1   {h.sha1}\nmd5    {h.md5}")
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)


if __name__ == "__main__":
    main()
