"""Labelled data sets for training and evaluation: common layouts read into one list.

:func:`read_dataset` recognises four layouts and returns :class:`LabelledSample`
records (path, label 1 = manipulated / 0 = authentic, the split the layout
prescribes if any, an identity group for leak-free splits, the method):

``folders``
    ``DIR/real/**`` and ``DIR/fake/**`` (also ``authentic``/``original``/``pristine``
    and ``manipulated``/``deepfake``/``synthetic``; case-insensitive).
``faceforensics``
    FaceForensics++ (Rössler et al., ICCV 2019):
    ``original_sequences/<youtube|actors>/<raw|c23|c40>/videos/*.mp4`` (authentic) and
    ``manipulated_sequences/<Method>/<raw|c23|c40>/videos/*.mp4`` (manipulated). If
    ``splits/{train,val,test}.json`` (the official ``[["071", "054"], ...]`` pair lists)
    are present, every video of a listed id gets that split.
``celebdf``
    Celeb-DF v2 (Li et al., CVPR 2020): ``Celeb-real/``, ``YouTube-real/`` (authentic),
    ``Celeb-synthesis/`` (manipulated); ``List_of_testing_videos.txt`` lines
    ``<1 = real | 0 = fake> <relative path>`` mark the test split (the rest is train).
``dfdc``
    DFDC (Dolhansky et al., 2020): one or more folders each holding ``metadata.json``
    ``{"name.mp4": {"label": "FAKE"|"REAL", "split": ..., "original": ...}}``.

Identity groups
---------------
Manipulated videos share faces with authentic ones (FF++ ``183_253`` is id 183's
video with id 253's face). :func:`identity_tokens` extracts identities from file
names, and :func:`grouped_split` keeps every connected set of identities on one
side of a split, so no face is seen in both training and test data.

Example
-------
>>> from pathlib import Path
>>> sorted(identity_tokens("FaceForensics-Detection_Website__183_253_1"))
['ff:183', 'ff:253']
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

VIDEO_EXT = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}
IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
REAL_NAMES = {"real", "authentic", "original", "originals", "pristine", "genuine", "0_real"}
FAKE_NAMES = {"fake", "fakes", "manipulated", "deepfake", "deepfakes", "synthetic", "forged", "1_fake"}
LAYOUTS = ("folders", "faceforensics", "celebdf", "dfdc")


class DatasetError(ValueError):
    """The folder is not a labelled data set this module can read (message says why)."""


@dataclass(frozen=True)
class LabelledSample:
    path: Path
    label: int  # 1 = manipulated, 0 = authentic
    layout: str
    group: frozenset = field(default_factory=frozenset)  # identity tokens
    split: str | None = None  # "train" / "val" / "test" where the layout prescribes it
    method: str = ""  # manipulation method, or the authentic source

    @property
    def kind(self) -> str:
        ext = self.path.suffix.lower()
        return "video" if ext in VIDEO_EXT else "image" if ext in IMAGE_EXT else "unknown"


def _media_files(root: Path, exts: set[str]) -> list[Path]:
    out = []
    for dirpath, dirnames, files in os.walk(root, followlinks=True):
        dirnames.sort()
        out += [Path(dirpath) / f for f in sorted(files) if Path(f).suffix.lower() in exts and not f.startswith(".")]
    return out


def identity_tokens(stem: str) -> frozenset:
    """Identities a file name refers to (FF++ ids, DFD actors, Celeb-DF ids); the stem itself otherwise."""
    s = stem
    tail = s.rsplit("__", 1)[-1] if "__" in s else s
    m = re.fullmatch(r"(\d{3})_(\d{3})(?:_\d+)?", tail)
    if m:
        return frozenset({f"ff:{m.group(1)}", f"ff:{m.group(2)}"})
    if re.fullmatch(r"\d{3}", tail):
        return frozenset({f"ff:{tail}"})
    m = re.search(r"(?:^|__)(\d{2})__[A-Za-z]", s)  # DFD actors: 01__kitchen_pan, 01_02__scene__ID
    if m:
        return frozenset({f"actor:{m.group(1)}"})
    m = re.fullmatch(r"(\d{2})_(\d{2})__.*", tail)
    if m:
        return frozenset({f"actor:{m.group(1)}", f"actor:{m.group(2)}"})
    m = re.fullmatch(r"(id\d+)_(id\d+)_\d+", tail)  # Celeb-DF synthesis: target_source_clip
    if m:
        return frozenset({f"celeb:{m.group(1)}", f"celeb:{m.group(2)}"})
    m = re.fullmatch(r"(id\d+)_\d+", tail)
    if m:
        return frozenset({f"celeb:{m.group(1)}"})
    return frozenset({f"file:{s}"})


def detect_layout(root: Path) -> str:
    root = Path(root)
    names = {p.name.lower(): p for p in root.iterdir()} if root.is_dir() else {}
    if "original_sequences" in names or "manipulated_sequences" in names:
        return "faceforensics"
    if "celeb-synthesis" in names or "list_of_testing_videos.txt" in names:
        return "celebdf"
    if (root / "metadata.json").is_file() or any((p / "metadata.json").is_file() for p in names.values() if p.is_dir()):
        return "dfdc"
    if any(n in REAL_NAMES for n in names) or any(n in FAKE_NAMES for n in names):
        return "folders"
    raise DatasetError(
        f"{root}: not a recognised labelled data set: expected real/ + fake/ folders, FaceForensics++ "
        "(original_sequences/, manipulated_sequences/), Celeb-DF (Celeb-real/, Celeb-synthesis/, "
        "List_of_testing_videos.txt) or DFDC (metadata.json)"
    )


def read_folders(root: Path, exts: set[str]) -> list[LabelledSample]:
    out = []
    for d in sorted(Path(root).iterdir()):
        if not d.is_dir():
            continue
        n = d.name.lower()
        label = 0 if n in REAL_NAMES else 1 if n in FAKE_NAMES else None
        if label is None:
            continue
        for p in _media_files(d, exts):
            out.append(LabelledSample(p, label, "folders", identity_tokens(p.stem), None, d.name))
    return out


def read_faceforensics(root: Path, exts: set[str], compression: str | None = None) -> list[LabelledSample]:
    root = Path(root)
    split_of: dict[str, str] = {}
    for split in ("train", "val", "test"):
        f = root / "splits" / f"{split}.json"
        if f.is_file():
            for pair in json.loads(f.read_text(encoding="utf-8")):
                for vid in pair:
                    split_of[str(vid)] = split
    out = []
    for top, label in (("original_sequences", 0), ("manipulated_sequences", 1)):
        base = root / top
        if not base.is_dir():
            continue
        for method_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            for comp_dir in sorted(p for p in method_dir.iterdir() if p.is_dir()):
                if compression and comp_dir.name != compression:
                    continue
                vdir = comp_dir / "videos" if (comp_dir / "videos").is_dir() else comp_dir
                for p in _media_files(vdir, exts):
                    ids = re.findall(r"\d{3}", p.stem.split("__")[0]) if method_dir.name != "actors" else []
                    splits = {split_of[i] for i in ids if i in split_of}
                    split = splits.pop() if len(splits) == 1 else None
                    method = "original" if label == 0 else method_dir.name
                    tokens = identity_tokens(p.stem)
                    out.append(LabelledSample(p, label, "faceforensics", tokens, split, method))
    return out


def read_celebdf(root: Path, exts: set[str]) -> list[LabelledSample]:
    root = Path(root)
    test: dict[str, int] = {}
    listing = root / "List_of_testing_videos.txt"
    if listing.is_file():
        for line in listing.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] in ("0", "1"):
                test[parts[1].replace("\\", "/")] = 1 - int(parts[0])  # the list uses 1 = real
    out = []
    for name, label in (("Celeb-real", 0), ("YouTube-real", 0), ("Youtube-real", 0), ("Celeb-synthesis", 1)):
        d = root / name
        if not d.is_dir():
            continue
        for p in _media_files(d, exts):
            rel = p.relative_to(root).as_posix()
            rel_flat = f"{name}/{p.name}"
            listed = test.get(rel, test.get(rel_flat))
            if listed is not None and listed != label:
                raise DatasetError(f"{rel}: List_of_testing_videos.txt says label {1 - listed} (1 = real), "
                                   f"but the file is in {name}/")
            split = "test" if listed is not None else ("train" if test else None)
            out.append(LabelledSample(p, label, "celebdf", identity_tokens(p.stem), split, name))
    return out


def read_dfdc(root: Path, exts: set[str]) -> list[LabelledSample]:
    root = Path(root)
    metas = [root / "metadata.json"] if (root / "metadata.json").is_file() else []
    metas += sorted(p / "metadata.json" for p in root.iterdir() if p.is_dir() and (p / "metadata.json").is_file())
    out = []
    for meta in metas:
        entries = json.loads(meta.read_text(encoding="utf-8"))
        for name, info in sorted(entries.items()):
            p = meta.parent / name
            if p.suffix.lower() not in exts or not p.is_file():
                continue
            lab = str(info.get("label", "")).upper()
            if lab not in ("REAL", "FAKE"):
                raise DatasetError(f"{meta}: {name} has label {info.get('label')!r}, expected REAL or FAKE")
            original = info.get("original") or name
            out.append(LabelledSample(p, int(lab == "FAKE"), "dfdc", frozenset({f"dfdc:{Path(original).stem}"}),
                                      info.get("split"), "original" if lab == "REAL" else "dfdc"))
    return out


def read_dataset(root: Path, kinds: Iterable[str] = ("image", "video"), layout: str | None = None,
                 compression: str | None = None) -> list[LabelledSample]:
    """Read a labelled data set in any supported layout (see the module docstring).

    Parameters
    ----------
    root : folder of the data set
    kinds : which media to list ("image", "video"), chosen by file extension
    layout : force a layout instead of detecting it
    compression : FaceForensics++ only: keep one compression level ("c23", "c40", "raw")

    Returns
    -------
    list of :class:`LabelledSample`, in a deterministic order.

    Raises
    ------
    DatasetError if the layout is not recognised or holds no media of the wanted kinds.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"data folder not found: {root}")
    layout = layout or detect_layout(root)
    exts = set()
    if "video" in kinds:
        exts |= VIDEO_EXT
    if "image" in kinds:
        exts |= IMAGE_EXT
    if layout == "folders":
        samples = read_folders(root, exts)
    elif layout == "faceforensics":
        samples = read_faceforensics(root, exts, compression)
    elif layout == "celebdf":
        samples = read_celebdf(root, exts)
    elif layout == "dfdc":
        samples = read_dfdc(root, exts)
    else:
        raise DatasetError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    if not samples:
        raise DatasetError(f"{root} ({layout} layout) holds no {'/'.join(kinds)} files")
    return samples


def connected_components(keys: list[list[str]]) -> list[int]:
    """Component index per item, items being linked when they share any key (union-find).

    Components are numbered in order of first appearance. Every item needs at least one key.
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for ks in keys:
        for k in ks[1:]:
            parent[find(k)] = find(ks[0])
    roots: dict[str, int] = {}
    return [roots.setdefault(find(ks[0]), len(roots)) for ks in keys]


def identity_components(samples: list[LabelledSample]) -> list[int]:
    """Component index per sample: samples sharing any identity token end up together."""
    return connected_components([sorted(s.group) or [str(s.path)] for s in samples])


def grouped_split(samples: list[LabelledSample], test_fraction: float = 0.3, seed: int = 0) -> list[str]:
    """``"train"``/``"test"`` per sample, keeping identity components whole and both classes in the test side.

    A split the layout prescribes (``sample.split``) wins where present ("val" counts as test).
    """
    comps = identity_components(samples)
    n_comp = max(comps) + 1 if comps else 0
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_comp)
    target = test_fraction * len(samples)
    test_comps: set[int] = set()
    count = 0
    labels_in_test: set[int] = set()
    for c in order:
        members = [s for s, k in zip(samples, comps) if k == c]
        if count >= target and len(labels_in_test) == 2:
            break
        if count + len(members) > 1.5 * target + 1 and count > 0 and len(labels_in_test) == 2:
            continue
        test_comps.add(int(c))
        count += len(members)
        labels_in_test |= {s.label for s in members}
    out = []
    for s, k in zip(samples, comps):
        if s.split in ("train", "test", "val"):
            out.append("train" if s.split == "train" else "test")
        else:
            out.append("test" if k in test_comps else "train")
    return out
