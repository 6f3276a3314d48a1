"""Lay out the synthetic-image detector's training data from fetched repositories, as its card's command reads it.

    python benchmarks/synthetic_data.py MIRROR DATA

MIRROR holds the fetched repositories as ``OWNER+NAME/repo`` (bare git, what the workplace's fetch writes): T0NY24/
Ecuadorian-political-deepfake-dataset, ByronOMC/ai-vs-real-images-arcade, ML72/AI-Image-Classifier-Playground,
TeenBiscuits/RealOrAI, Laboratoriet/real-or-ai-game, kaivalyagandhi/ai-or-not-game and declan-wright/Image-Dataset.
Every file is read at the commit the card records (``forensics_plugins/synthetic/data_sources.json``), blob by blob,
so a blob absent from a snapshot is reported and skipped instead of aborting the copy. DATA gets ``synthetic/``
(the folders below); ``face_image`` and ``face_real`` come from ``../shared/data`` (link them into DATA). Existing
folders are kept. Prints the count per folder: compare with the card's Data table.
"""

from __future__ import annotations

import fnmatch
import subprocess
import sys
from pathlib import Path

# (repository, commit, [(glob inside the repository, target folder under DATA/synthetic, flat name)])
# flat name: "name" keeps the file name; "parent_name" / "grandparent_name" prefix the category folder (the file's
# own folder in kaivalyagandhi's layout, the one above ai/ or real/ in Laboratoriet's), as the card's Data table says
LAYOUT = [
    ("T0NY24/Ecuadorian-political-deepfake-dataset", "60c61bb6e7e4853453b2a3478561f043f1bfe79a", [
        (f"data/{k}/{p}/*", f"src/flux1-faces_{'fake' if k == 'fake' else 'real'}/{p}", "name")
        for k in ("fake", "real") for p in ("gonzalez", "noboa", "correa")]),
    ("ByronOMC/ai-vs-real-images-arcade", "97f54eefbe847e22ec009a55ebc98482f5be1edd", [
        ("data/news/AI_*", "src/gemini-news_fake", "name"), ("data/news/REAL_*", "src/gemini-news_real", "name")]),
    ("ML72/AI-Image-Classifier-Playground", "c256422974a925d4ddb49d438cd5c5679cef829c", [
        ("public/images/ai/*", "ml72/public/images/ai", "name"),
        ("public/images/real/*", "ml72/public/images/real", "name")]),
    ("TeenBiscuits/RealOrAI", "7e84faec19eff5804d0031ecd7e272aa6f6cf0de", [
        ("public/images/ai/*", "realorai/public/images/ai", "name"),
        ("public/images/real/*", "realorai/public/images/real", "name")]),
    ("Laboratoriet/real-or-ai-game", "269851655dae14acd2867195733d712c669dfa39", [
        (f"public/images/{c}/{k}/*.jpg", f"laboratoriet/{k}", "grandparent_name")
        for c in ("people", "city", "nature", "interior") for k in ("ai", "real")]),
    ("kaivalyagandhi/ai-or-not-game", "8c02dba5a12e1b2e6422b75e0bf0297a9b772f40", [
        ("src/client/public/images/*/pair*-ai.*", "aiornot_reddit/ai", "parent_name"),
        ("src/client/public/images/*/pair*-human.*", "aiornot_reddit/real", "parent_name")]),
    ("declan-wright/Image-Dataset", "ba6438275ebfa74bb1944e34ebf82f2406157287", [
        ("A*.jpg", "declan/ai", "name"), ("B*.jpg", "declan/real", "name")]),
]


def _tree(git: Path, commit: str) -> list[tuple[str, str]]:
    out = subprocess.run(["git", "--git-dir", str(git), "ls-tree", "-r", "-z", commit], capture_output=True,
                         check=True).stdout.decode("utf-8", "surrogateescape")  # -z: paths unquoted (non-ASCII names)
    rows = []
    for line in filter(None, out.split("\0")):
        meta, path = line.split("\t", 1)
        _, kind, sha = meta.split()
        if kind == "blob":
            rows.append((path, sha))
    return rows


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    mirror, data = Path(sys.argv[1]), Path(sys.argv[2])
    root = data / "synthetic"
    kept = {t for _, _, rules in LAYOUT for _, t, _ in rules if (root / t).is_dir() and any((root / t).iterdir())}
    for repo, commit, rules in LAYOUT:
        git = mirror / repo.replace("/", "+") / "repo"
        if not git.exists():
            print(f"{repo}: not fetched ({git}); skipped")
            continue
        tree = _tree(git, commit)
        for pattern, target, naming in rules:
            dest = root / target
            if target in kept:
                continue
            dest.mkdir(parents=True, exist_ok=True)
            n = 0
            for path, sha in tree:
                # fnmatch's * crosses "/": require the same depth as the pattern
                if path.count("/") != pattern.count("/") or not fnmatch.fnmatch(path, pattern):
                    continue
                parts = path.split("/")
                name = (parts[-1] if naming == "name" else "_".join(parts[-2:]) if naming == "parent_name"
                        else f"{parts[-3]}_{parts[-1]}")
                blob = subprocess.run(["git", "--git-dir", str(git), "cat-file", "blob", sha], capture_output=True)
                if blob.returncode != 0:
                    print(f"  {repo}: {path} is absent from the snapshot; skipped")
                    continue
                (dest / name).write_bytes(blob.stdout)
                n += 1
            print(f"{target}: {n} files ({repo} @ {commit[:12]}, {pattern})")


if __name__ == "__main__":
    main()
