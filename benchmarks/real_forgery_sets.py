"""Lay out a public tampered-photo set, fetched as a git repository, the way the evaluators read it.

``forensics evaluate``, ``forensics train copy_move --real`` and ``benchmarks/image_forgery.py --real-set`` read a set as
``OUT/real/`` (authentic), ``OUT/fake/`` (tampered), ``OUT/mask/<fake stem>.png`` (white = tampered, where the set has
pixel truth), optionally a second ground truth (``OUT/mask_srctgt/``: copy-move source + target), and a
``MANIFEST.csv`` (columns ``set, label, relpath, repo, commit, source_path, sha256, licence``; ``label`` is ``real`` or
``fake:<kind>``). This script writes that layout from the repository's committed files (read with ``git show`` at one
commit, so the set is byte-reproducible and the working tree of the fetch is never needed):

    python benchmarks/real_forgery_sets.py coverage  --git /path/to/wei-won+image-forensics/repo  --out DATA/coverage
    python benchmarks/real_forgery_sets.py micc_f220 --git /path/to/sibelius+cutcopy/repo         --out DATA/micc_f220

Recipes (name: repository, paths, how the label is known):

- ``coverage``: wei-won/image-forensics, ``data/COVERAGE`` = COVERAGE (Wen et al., ICIP 2016; corrected Sep-2017
  release, uncompressed TIFF): ``image/N.tif`` authentic, ``image/Nt.tif`` tampered; the kind is the set's own
  ``label/TFlabel.mat`` (1 rotation, 2 scaling, 3 translation = plain, 4 illumination, 5 free-form, 6 combination);
  ``mask/`` from ``mask/Nforged.tif`` (the forged = pasted region), ``mask_srctgt/`` from it united with ``mask/Ncopy.tif``
  (the duplicated source). Non-commercial research use (its readme). Five of its masks (41, 48, 56, 59, 61: plain
  and illumination copies) do not have their image's size; they are stored as published, and the evaluators stretch
  a detector's mask to the truth's size (nearest), which fits them better than cropping but not exactly. With this
  layout ``forensics train copy_move`` (the card's command) gives plain pixel F1 0.607 (pasted region) and 0.892
  (source + pasted); the copy_move 2.0.0 card's 0.632 / 0.930 came from an earlier, unrecorded layout of the same
  files; every other figure of that card (AUCs, marked counts, the other kinds' F1) is reproduced. The set's
  ``Npaste.tif`` (the covered similar-but-genuine object) reproduces less of it (rotation 0.467 against 0.501).
- ``micc_f220``: sibelius/cutcopy, ``database/MICC-F220`` = MICC-F220 (Amerini et al., TIFS 2011): 110 ``*tamp*.jpg``
  copy-moves (kind = the ``tampNNN`` attack code of the file name), 110 originals; the set's
  ``groundtruthDB_220.txt`` gives the label of every file (checked against the names). No pixel masks.
- ``casia1_samples``: CauchyComplete/casia1groundtruth, ``Samples/CM`` and ``Samples/Sp`` = 36 CASIA v1.0 tampered
  images (18 copy-moves, 18 splices; Dong et al., ChinaSIP 2013) with the ground truth of Pham et al. 2019: each
  ``*_combine.png`` is three equal panels side by side, tampered | authentic host | mask, split here into
  ``real/``, ``fake/`` and ``mask/`` (PNG, lossless); kind from the folder (CM = copy-move, Sp = splice).

A fourth mode exports authentic host photos (for ``benchmarks/make_forgery_set.py``, which turns hosts into a
generated forgery set) from the files of one commit matching a glob, with the same MANIFEST.csv:

    python benchmarks/real_forgery_sets.py hosts --git REPO --commit C --glob 'data/news/REAL_*.jpg' --out DIR

The data stays outside the repository. Prints the counts per kind.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import re
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from forensics.api import read_forgery_mask


def git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(_git_dir(repo)), *args], check=True, capture_output=True).stdout


def _git_dir(repo: Path) -> Path:
    return repo / ".git" if (repo / ".git").is_dir() else repo


def list_files(repo: Path, commit: str, under: str) -> list[str]:
    return [p for p in git(repo, "ls-tree", "-r", "-z", "--name-only", commit, "--", under).decode().split("\0") if p]


def blob(repo: Path, commit: str, path: str) -> bytes:
    return git(repo, "show", f"{commit}:{path}")


def write_mask(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask.astype(np.uint8) * 255).save(path, format="PNG", optimize=False)


class SetWriter:
    """Writes the files of one set under ``out`` and its MANIFEST.csv; the set's name is the folder's name (what
    :func:`forensics.api.read_forgery_set` matches the manifest's ``set`` column against)."""

    def __init__(self, out: Path, repo_name: str, commit: str, licence: str):
        self.name, self.out, self.repo_name, self.commit, self.licence = out.name, out, repo_name, commit, licence
        self.rows: list[dict] = []
        self.counts: dict[str, int] = {}

    def add(self, label: str, sub: str, filename: str, data: bytes, source_path: str) -> str:
        rel = f"{sub}/{filename}"
        dest = self.out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        self.rows.append({"set": self.name, "label": label, "relpath": f"{self.name}/{rel}", "repo": self.repo_name,
                          "commit": self.commit, "source_path": source_path,
                          "sha256": hashlib.sha256(data).hexdigest(), "licence": self.licence})
        self.counts[label] = self.counts.get(label, 0) + 1
        return rel

    def finish(self) -> None:
        with (self.out / "MANIFEST.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(self.rows[0]))
            w.writeheader()
            w.writerows(sorted(self.rows, key=lambda r: r["relpath"]))
        for label in sorted(self.counts):
            print(f"{self.name}: {label}: {self.counts[label]}")


COVERAGE_KINDS = {1: "rotation", 2: "scaling", 3: "plain", 4: "illumination", 5: "freeform", 6: "combination"}


def build_coverage(repo: Path, commit: str, out: Path) -> SetWriter:
    from scipy.io import loadmat

    base = "data/COVERAGE"
    labels = loadmat(io.BytesIO(blob(repo, commit, f"{base}/label/TFlabel.mat")))["TFlabel"].ravel()
    w = SetWriter(out, "wei-won/image-forensics", commit, "COVERAGE: non-commercial research use")
    for n in range(1, len(labels) + 1):
        w.add("real", "real", f"{n}.tif", blob(repo, commit, f"{base}/image/{n}.tif"), f"{base}/image/{n}.tif")
        kind = "copy-move-" + COVERAGE_KINDS[int(labels[n - 1])]
        w.add(f"fake:{kind}", "fake", f"{n}t.tif", blob(repo, commit, f"{base}/image/{n}t.tif"),
              f"{base}/image/{n}t.tif")
        forged = read_forgery_mask(io.BytesIO(blob(repo, commit, f"{base}/mask/{n}forged.tif")))
        copy = read_forgery_mask(io.BytesIO(blob(repo, commit, f"{base}/mask/{n}copy.tif")))
        write_mask(out / "mask" / f"{n}t.png", forged)
        write_mask(out / "mask_srctgt" / f"{n}t.png", forged | copy)
    return w


def build_micc_f220(repo: Path, commit: str, out: Path) -> SetWriter:
    base = "database/MICC-F220"
    truth = {}
    for line in blob(repo, commit, f"{base}/groundtruthDB_220.txt").decode().splitlines():
        if "," in line:
            name, lab = line.strip().rsplit(",", 1)
            truth[name.strip()] = int(lab)
    w = SetWriter(out, "sibelius/cutcopy", commit, "MICC-F220: research use (Amerini et al. 2011)")
    for path in sorted(list_files(repo, commit, base)):
        name = path.rsplit("/", 1)[-1]
        if not name.lower().endswith((".jpg", ".jpeg")):
            continue
        m = re.search(r"tamp(\d+)", name)
        if truth.get(name) != (1 if m else 0):
            raise SystemExit(f"{name}: label in groundtruthDB_220.txt ({truth.get(name)}) disagrees with its name")
        if m:
            w.add(f"fake:copy-move-tamp{m.group(1)}", "fake", name, blob(repo, commit, path), path)
        else:
            w.add("real", "real", name, blob(repo, commit, path), path)
    return w


def build_casia1_samples(repo: Path, commit: str, out: Path) -> SetWriter:
    w = SetWriter(out, "CauchyComplete/casia1groundtruth", commit,
                  "CASIA v1.0: research use; ground truth of Pham et al. 2019")
    for folder, kind in (("Samples/CM", "copy-move"), ("Samples/Sp", "splice")):
        for path in sorted(list_files(repo, commit, folder)):
            if not path.endswith("_combine.png"):
                continue
            a = np.asarray(Image.open(io.BytesIO(blob(repo, commit, path))).convert("RGB"))
            h, width = a.shape[:2]
            if width % 3:
                raise SystemExit(f"{path}: width {width} is not three equal panels")
            third = width // 3
            stem = path.rsplit("/", 1)[-1][: -len("_combine.png")]
            panels = [a[:, i * third:(i + 1) * third] for i in range(3)]
            for label, sub, img in ((f"fake:{kind}", "fake", panels[0]), ("real", "real", panels[1])):
                buf = io.BytesIO()
                Image.fromarray(img).save(buf, format="PNG", optimize=False)
                name = f"Au_host_of_{stem}.png" if sub == "real" else f"{stem}.png"
                w.add(label, sub, name, buf.getvalue(), f"{path} (panel {2 if sub == 'real' else 1} of 3)")
            write_mask(out / "mask" / f"{stem}.png", panels[2].mean(axis=2) > 127)
    return w


def build_hosts(repo: Path, commit: str, out: Path, globs: list[str], repo_name: str) -> SetWriter:
    from fnmatch import fnmatchcase

    w = SetWriter(out, repo_name, commit, "see the source repository")
    files = list_files(repo, commit, ".")
    for path in sorted(p for p in files if any(fnmatchcase(p, g) for g in globs)):
        name = path.replace("/", "__")
        w.add("real", "real", name, blob(repo, commit, path), path)
    if not w.rows:
        raise SystemExit(f"no file of {commit[:12]} matches {globs}")
    return w


RECIPES = {"casia1_samples": build_casia1_samples, "coverage": build_coverage, "micc_f220": build_micc_f220}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipe", choices=sorted(RECIPES) + ["hosts"])
    ap.add_argument("--git", required=True, type=Path, help="the fetched repository (work tree or git directory)")
    ap.add_argument("--commit", default="HEAD")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--glob", action="append", default=[], help="hosts: repository paths to export (fnmatch)")
    ap.add_argument("--repo-name", default="", help="hosts: owner/name for the manifest")
    a = ap.parse_args()
    if a.out.exists() and any(a.out.iterdir()):
        raise SystemExit(f"{a.out} is not empty")
    commit = git(a.git, "rev-parse", a.commit).decode().strip()
    if a.recipe == "hosts":
        if not a.glob or not a.repo_name:
            raise SystemExit("hosts needs --glob and --repo-name")
        build_hosts(a.git, commit, a.out, a.glob, a.repo_name).finish()
    else:
        RECIPES[a.recipe](a.git, commit, a.out).finish()


if __name__ == "__main__":
    main()
