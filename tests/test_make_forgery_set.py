"""benchmarks/make_forgery_set.py: a seeded generated forgery set, with a MANIFEST.csv naming its hosts' source."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _hosts(tmp_path: Path) -> Path:
    d = tmp_path / "hosts" / "demo"
    (d / "real").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(6):
        img = (rng.random((160, 200, 3)) * 255).astype(np.uint8)
        Image.fromarray(img).save(d / "real" / f"h{i}.jpg", quality=90)
        rows.append({"set": "demo", "label": "real", "relpath": f"demo/real/h{i}.jpg", "repo": "owner/photos",
                     "commit": "a" * 40, "source_path": f"pics/h{i}.jpg", "sha256": "0" * 64, "licence": "CC0"})
    with (d / "MANIFEST.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return d / "real"


def _run(hosts: Path, out: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_forgery_set.py"), "--hosts", str(hosts), "--out",
                    str(out), "--max-hosts", "6", "--seed", "3"], check=True, capture_output=True)


def test_forgery_set_is_seeded_and_names_its_source(tmp_path):
    hosts = _hosts(tmp_path)
    _run(hosts, tmp_path / "a" / "set1")
    _run(hosts, tmp_path / "b" / "set1")
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert any(f.parts[1] == "real" for f in files) and any(f.parts[1] == "fake" for f in files)
    with (tmp_path / "a" / "set1" / "MANIFEST.csv").open(newline="", encoding="utf-8") as f:
        (row,) = list(csv.DictReader(f))
    assert row["set"] == "set1" and row["repo"] == "owner/photos" and row["commit"] == "a" * 40
    assert row["paths"].startswith("6 of the 6 host photos from pics/") and "--seed 3" in row["paths"]
    assert row["licence"] == "CC0" and "generated here" in row["how_label_known"]
    from forensics.api import data_set_manifest_row

    assert data_set_manifest_row(tmp_path / "a" / "set1")["repo"] == "owner/photos"  # what the fusion card reads
