"""Generate a labelled image-forgery set (``real/`` + ``fake/``) from authentic host photos, for evaluation and fusion.

Each host photo gives one file: authentic (saved as JPEG at a random quality, or PNG) or, alternately, a forgery of
one of three kinds -- a splice of a region from another host (``forensics.api.make_splice``: donor JPEG-compressed at
another quality, sometimes resampled), a copy-move (``make_copy_move``: rotated/scaled copy), or a copy-move
saved as JPEG. Hosts are assigned in a seeded order, so the set is reproducible:

    python benchmarks/make_forgery_set.py --hosts DIR [--hosts DIR2] --out OUT [--max-hosts 120] [--seed 0]

Prints the counts per kind. The set is data, not code: keep it outside the repository.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image

from forensics.forgeries import decode_image, jpeg_bytes, load_rgb, make_copy_move, make_splice

EXT = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", action="append", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--max-hosts", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    paths = sorted(p for d in a.hosts for p in d.rglob("*") if p.suffix.lower() in EXT)
    rng = np.random.default_rng(a.seed)
    paths = [paths[i] for i in rng.permutation(len(paths))[: a.max_hosts]]
    (a.out / "real").mkdir(parents=True, exist_ok=True)
    (a.out / "fake").mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for i, p in enumerate(paths):
        host = load_rgb(p, max_side=640)
        kind = ["authentic", "splice", "authentic", "copy_move", "authentic", "copy_move_jpeg"][i % 6]
        q = int(rng.integers(75, 96))
        if kind == "authentic":
            if rng.random() < 0.25:
                buf = io.BytesIO()
                Image.fromarray(host).save(buf, format="PNG")
                data, ext = buf.getvalue(), "png"
            else:
                data, ext = jpeg_bytes(decode_image(jpeg_bytes(host, int(rng.integers(80, 98)))), q), "jpg"
            target = a.out / "real" / f"{i:04d}_{p.stem}.{ext}"
        else:
            try:
                if kind == "splice":
                    donor = load_rgb(paths[(i + 7) % len(paths)], max_side=640)
                    forged, _ = make_splice(decode_image(jpeg_bytes(host, int(rng.integers(80, 98)))), donor, rng,
                                            q1=int(rng.integers(80, 98)), q2=int(rng.integers(60, 90)))
                    data, ext = jpeg_bytes(forged, q), "jpg"
                else:
                    forged, _, _ = make_copy_move(host, rng, rotate=(-20, 20), scale=(0.9, 1.1))
                    if kind == "copy_move_jpeg":
                        data, ext = jpeg_bytes(forged, q), "jpg"
                    else:
                        buf = io.BytesIO()
                        Image.fromarray(forged).save(buf, format="PNG")
                        data, ext = buf.getvalue(), "png"
            except ValueError:
                continue
            target = a.out / "fake" / f"{i:04d}_{kind}_{p.stem}.{ext}"
        target.write_bytes(data)
        counts[kind] = counts.get(kind, 0) + 1
    write_manifest(a, counts, len(paths))
    print(f"wrote {sum(counts.values())} files to {a.out}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


def write_manifest(a: argparse.Namespace, counts: dict[str, int], used: int) -> None:
    """``OUT/MANIFEST.csv``: one set-level row naming where the host photos came from (the first ``--hosts``
    folder's MANIFEST.csv, as ``benchmarks/real_forgery_sets.py hosts`` writes it, in the folder or its parent) and
    how the set was made, so that a card listing this set can name its source."""
    import csv

    rows: list[dict] = []
    for m in (m for h in a.hosts for m in (h / "MANIFEST.csv", h.parent / "MANIFEST.csv") if m.is_file()):
        with m.open(newline="", encoding="utf-8") as f:
            rows = [r for r in csv.DictReader(f) if r.get("repo")]
        if rows:
            break
    row = rows[0] if rows else {}
    folders = sorted({r["source_path"].rsplit("/", 1)[0] + "/" for r in rows if r.get("source_path")})
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    out = {"set": a.out.name, "repo": row.get("repo", ""), "commit": row.get("commit", ""),
           "paths": (f"{used} of the {len(rows) or '?'} host photos from {', '.join(folders) or '?'} of that repository (each listed with its "
                     f"SHA-256 in the hosts folder's MANIFEST.csv); files made by "
                     f"benchmarks/make_forgery_set.py --max-hosts {a.max_hosts} "
                     f"--seed {a.seed} ({kinds})"),
           "licence": row.get("licence", ""),
           "how_label_known": ("generated here: real/ = the host photos re-saved (JPEG or PNG), fake/ = splices, "
                               "copy-moves and JPEG-saved copy-moves made from them by forensics.forgeries")}
    with (a.out / "MANIFEST.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(out))
        w.writeheader()
        w.writerow(out)


if __name__ == "__main__":
    main()
