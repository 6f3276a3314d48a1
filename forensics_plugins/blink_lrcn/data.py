"""Training data for the eye-state network: eye crops and faces labelled open/closed.

Two kinds of source, both with an ``open/`` and/or ``closed/`` folder layout (or a
single folder given with its label):

* **eye crops** (e.g. a drowsiness data set): each image already shows one eye; it is
  converted to grey, centre-cropped to a square and resized to the network's input;
* **face images** (e.g. CEW closed-eye faces, portraits with open eyes): the shared
  face pipeline (:func:`forensics.faces.analyse_image`) finds the face, aligns it and
  places 68 landmarks, and both eyes are cut out with exactly the geometry used at
  analysis time (:func:`~forensics_plugins.blink_lrcn.eyes.eye_crops`). Faces the
  pipeline does not find are skipped and counted.

Face analysis is slow (≈0.15 s an image), so aligned crops are cached on disk,
keyed by the image's SHA-256 and the pipeline version.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .eyes import EYE_CROP_SIZE, ear_pair, eye_crops, eye_visibility

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
LABELS = {"open": 0, "closed": 1}
CACHE_VERSION = "faces-v1"


@dataclass
class EyeSamples:
    """Grey eye crops with labels (1 = closed), a group id (source image) and a source name."""

    crops: np.ndarray  # (N, S, S) uint8
    labels: np.ndarray  # (N,) int64
    groups: np.ndarray  # (N,) int64: samples from one image share a group
    sources: np.ndarray  # (N,) str: which folder
    ear: np.ndarray  # (N,) float: EAR of that eye (nan for eye-crop sources)
    counts: dict = field(default_factory=dict)  # per source: images found / used / skipped
    colour: np.ndarray | None = None  # (N, S, S, 3) uint8, same geometry as ``crops`` (grey sources: replicated)
    files: np.ndarray | None = None  # (N,) str: the image each sample was cut from (for error reports)

    @staticmethod
    def concat(parts: list["EyeSamples"]) -> "EyeSamples":
        parts = [p for p in parts if len(p.labels)]
        if not parts:
            s = EYE_CROP_SIZE
            return EyeSamples(np.zeros((0, s, s), np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int64),
                              np.zeros(0, dtype="<U64"), np.zeros(0), colour=np.zeros((0, s, s, 3), np.uint8))
        offset, groups = 0, []
        for p in parts:
            groups.append(p.groups + offset)
            offset += int(p.groups.max()) + 1
        counts: dict = {}
        for p in parts:
            counts.update(p.counts)
        return EyeSamples(np.concatenate([p.crops for p in parts]), np.concatenate([p.labels for p in parts]),
                          np.concatenate(groups), np.concatenate([p.sources for p in parts]),
                          np.concatenate([p.ear for p in parts]), counts,
                          np.concatenate([p.colour_or_grey() for p in parts]),
                          np.concatenate([p.files for p in parts]) if all(p.files is not None for p in parts)
                          else None)

    def colour_or_grey(self) -> np.ndarray:
        """``colour`` when stored, else the grey crops replicated to three channels."""
        return self.colour if self.colour is not None else np.repeat(self.crops[..., None], 3, axis=-1)

    def __len__(self) -> int:
        return len(self.labels)


def list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(Path(r) / f for r, _d, fs in os.walk(folder) for f in fs if os.path.splitext(f)[1].lower() in IMAGE_EXT)


def labelled_folders(root: Path) -> list[tuple[Path, int]]:
    """``[(folder, label)]`` for ``root/open`` and ``root/closed`` where they exist."""
    return [(root / name, lab) for name, lab in LABELS.items() if (root / name).is_dir()]


def load_rgb(path: Path):
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def eye_crop_image(path: Path, size: int = EYE_CROP_SIZE) -> np.ndarray:
    """An eye-crop image → grey ``size``² (central square, area resampling)."""
    import cv2

    rgb = load_rgb(path)
    h, w = rgb.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    grey = cv2.cvtColor(rgb[y0:y0 + s, x0:x0 + s], cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA)


def load_eye_crop_folder(folder: Path, label: int, source: str) -> EyeSamples:
    paths = list_images(folder)
    crops = np.stack([eye_crop_image(p) for p in paths]) if paths else np.zeros((0, EYE_CROP_SIZE, EYE_CROP_SIZE), np.uint8)
    n = len(paths)
    return EyeSamples(crops, np.full(n, label, np.int64), np.arange(n), np.full(n, source, dtype="<U64"),
                      np.full(n, np.nan), {source: {"images": n, "used": n, "kind": "eye crops"}},
                      files=np.array([str(p) for p in paths], dtype=str))


def _prepare_face_image(rgb: np.ndarray, target: int = 240, pad: float = 0.25) -> np.ndarray:
    """Upscale small face crops and pad them: the HOG detector needs ≈80 px faces and some context."""
    import cv2

    h, w = rgb.shape[:2]
    s = target / max(h, w)
    if s > 1:
        rgb = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_CUBIC)
    p = int(pad * max(rgb.shape[:2]))
    return cv2.copyMakeBorder(rgb, p, p, p, p, cv2.BORDER_REPLICATE)


def save_cache(path: Path, arrays: dict[str, np.ndarray] | None) -> None:
    """Write a cache entry atomically: ``found=False`` when ``arrays`` is None, else the arrays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    if arrays is None:
        np.savez(tmp, found=False)
    else:
        np.savez_compressed(tmp, found=True, **arrays)
    os.replace(tmp, path)


def aligned_face(path: Path, cache_dir: Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(crop, crop_landmarks, landmarks)`` of the largest face in an image (cached), or ``None``."""
    from forensics.api import NoFaceError, analyse_image

    data = path.read_bytes()
    key = hashlib.sha256(data + CACHE_VERSION.encode()).hexdigest()
    cached = cache_dir / "faces" / f"{key}.npz" if cache_dir else None
    if cached is not None and cached.is_file():
        z = np.load(cached)
        return (z["crop"], z["crop_landmarks"], z["landmarks"]) if z["found"] else None
    try:
        fa = analyse_image(_prepare_face_image(load_rgb(path)))
        obs = fa.largest_track.observations[0]
        out = (np.asarray(obs.crop), np.asarray(obs.crop_landmarks), np.asarray(obs.landmarks))
    except NoFaceError:
        out = None
    if cached is not None:
        save_cache(cached, None if out is None else {"crop": out[0], "crop_landmarks": out[1], "landmarks": out[2]})
    return out


def load_face_folder(folder: Path, label: int, source: str, cache_dir: Path | None,
                     echo: Callable[[str], None] = print, min_ear: float | None = None) -> EyeSamples:
    """Both eyes of every face found in ``folder``, labelled ``label``.

    Faces whose eyes fail :func:`eye_visibility` (profile, dark glasses) are skipped:
    their label says nothing about what the eye crop shows. With ``min_ear`` (for folders whose open-eye
    label is assumed, e.g. portraits, not checked per image), faces whose mean eye aspect ratio from the
    landmarks is below it are skipped too: most are caught mid-blink or squinting, so the label is doubtful.
    """
    paths = list_images(folder)
    crops, colours, ears, groups, files = [], [], [], [], []
    no_face = hidden = low_ear = 0
    for i, p in enumerate(paths):
        af = aligned_face(p, cache_dir)
        if (i + 1) % 200 == 0:
            echo(f"  {source}: {i + 1}/{len(paths)} images")
        if af is None:
            no_face += 1
            continue
        crop, crop_lm, _lm = af
        # the aligned crop is the reference frame: visibility on crop coordinates (size check off)
        if eye_visibility(crop_lm, crop, crop_lm) is not None:
            hidden += 1
            continue
        r, l = ear_pair(crop_lm)
        if min_ear is not None and not np.nanmean([r, l]) >= min_ear:
            low_ear += 1
            continue
        e = eye_crops(crop, crop_lm)
        ec = eye_crops(crop, crop_lm, colour=True)
        crops += [e[0], e[1]]
        colours += [ec[0], ec[1]]
        ears += [r, l]
        groups += [i, i]
        files += [str(p), str(p)]
    n = len(groups)
    stack = np.stack(crops) if crops else np.zeros((0, EYE_CROP_SIZE, EYE_CROP_SIZE), np.uint8)
    cstack = np.stack(colours) if colours else np.zeros((0, EYE_CROP_SIZE, EYE_CROP_SIZE, 3), np.uint8)
    return EyeSamples(stack, np.full(n, label, np.int64), np.asarray(groups, np.int64), np.full(n, source, dtype="<U64"),
                      np.asarray(ears, np.float64),
                      {source: {"images": len(paths), "used": n // 2, "no_face": no_face, "eyes_not_visible": hidden,
                                **({"label_doubtful_low_ear": low_ear, "min_ear": min_ear} if min_ear is not None
                                   else {}),
                                "kind": "face images (both eyes)"}}, cstack, np.array(files, dtype=str))


def collect(eye_dirs: Iterable[Path] = (), face_dirs: Iterable[Path] = (), open_face_dirs: Iterable[Path] = (),
            closed_face_dirs: Iterable[Path] = (), cache_dir: Path | None = None,
            echo: Callable[[str], None] = print, open_min_ear: float | None = None) -> EyeSamples:
    """All labelled eye samples from the given folders (see the module docstring)."""
    parts = []
    for d in eye_dirs:
        for folder, lab in labelled_folders(Path(d)):
            parts.append(load_eye_crop_folder(folder, lab, _name(folder)))
    for d in face_dirs:
        for folder, lab in labelled_folders(Path(d)):
            parts.append(load_face_folder(folder, lab, _name(folder), cache_dir, echo))
    for d in open_face_dirs:
        parts.append(load_face_folder(Path(d), 0, _name(Path(d)), cache_dir, echo, min_ear=open_min_ear))
    for d in closed_face_dirs:
        parts.append(load_face_folder(Path(d), 1, _name(Path(d)), cache_dir, echo))
    return EyeSamples.concat(parts)


def _name(folder: Path) -> str:
    folder = Path(os.path.abspath(folder))
    return f"{folder.parent.name}/{folder.name}"
