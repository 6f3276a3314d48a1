"""benchmarks/real_forgery_sets.py lays out public forgery sets from a git repository exactly (labels, panels, masks)."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from forensics.api import read_forgery_set

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _module():
    spec = importlib.util.spec_from_file_location("real_forgery_sets", ROOT / "benchmarks" / "real_forgery_sets.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _repo(tmp_path: Path, files: dict[str, bytes]) -> Path:
    repo = tmp_path / "repo"
    for rel, data in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(data)
    env = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", *env, "-C", str(repo), "commit", "-qm", "data"], check=True)
    (repo / next(iter(files))).unlink()  # the work tree is never read: only the commit
    return repo


def _png(a: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def test_casia_combine_panels_split_into_tampered_authentic_and_mask(tmp_path):
    h, w = 8, 10
    tampered = np.full((h, w, 3), 200, np.uint8)
    authentic = np.full((h, w, 3), 50, np.uint8)
    mask = np.zeros((h, w, 3), np.uint8)
    mask[2:5, 3:7] = 255
    combine = np.concatenate([tampered, authentic, mask], axis=1)
    repo = _repo(tmp_path, {"Samples/CM/Sp_S_X_combine.png": _png(combine), "Samples/Sp/Sp_D_Y_combine.png": _png(combine)})
    mod = _module()
    out = tmp_path / "casia1_samples"
    commit = mod.git(repo, "rev-parse", "HEAD").decode().strip()
    mod.build_casia1_samples(repo, commit, out).finish()
    items = read_forgery_set(out)
    kinds = sorted(k for _p, label, k, _m in items if label == 1)
    assert kinds == ["copy-move", "splice"]
    for p, label, _k, m in items:
        a = np.asarray(Image.open(p).convert("RGB"))
        assert a.shape == (h, w, 3) and int(a.mean()) == (200 if label else 50)
        if label:
            assert (np.asarray(Image.open(m)) > 127).sum() == 12
    rows = list(csv.DictReader((out / "MANIFEST.csv").open(encoding="utf-8")))
    assert len(rows) == 4 and all(r["commit"] == commit for r in rows)
    for r in rows:
        assert hashlib.sha256((out / r["relpath"].split("/", 1)[1]).read_bytes()).hexdigest() == r["sha256"]


def test_micc_labels_must_agree_with_the_sets_ground_truth_file(tmp_path):
    jpg = _png(np.zeros((4, 4, 3), np.uint8))  # content does not matter; the recipe copies bytes
    base = "database/MICC-F220/"
    good = {base + "A_scale.jpg": jpg, base + "Atamp12.jpg": jpg, base + "groundtruthDB_220.txt": b"A_scale.jpg,0\nAtamp12.jpg,1\n"}
    mod = _module()
    repo = _repo(tmp_path / "good", good)
    commit = mod.git(repo, "rev-parse", "HEAD").decode().strip()
    w = mod.build_micc_f220(repo, commit, tmp_path / "good" / "micc_f220")
    assert w.counts == {"real": 1, "fake:copy-move-tamp12": 1}
    bad = dict(good)
    bad[base + "groundtruthDB_220.txt"] = b"A_scale.jpg,1\nAtamp12.jpg,1\n"
    repo = _repo(tmp_path / "bad", bad)
    commit = mod.git(repo, "rev-parse", "HEAD").decode().strip()
    with pytest.raises(SystemExit, match="disagrees"):
        mod.build_micc_f220(repo, commit, tmp_path / "bad" / "micc_f220")
