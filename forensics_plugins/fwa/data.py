"""Face crops + landmarks per training / evaluation file, cached as npz keyed by the file's SHA-256.

Every file goes through the shared face pipeline (:func:`forensics.api.face_analysis_for_file`, the
same code the detector sees at analysis time; crops stored without landmarks are re-detected). For
each whole-duration face track (:func:`scored_tracks`: ``video_tracks`` for a video, dense and sparse frames
alike), up to :data:`FRAMES_PER_TRACK` observations evenly spaced in time over the whole track
(:func:`evenly_timed`) are kept: the aligned crop (downscaled to :data:`STORE_SIDE` px) with its 68 landmarks in crop
coordinates and the frame time. The cache file name is the SHA-256 of the file's *content* plus the
pipeline / cache version, so renamed or copied files hit the same entry and edited files miss it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from forensics.api import NoFaceError, face_analysis_for_file, sha256_file

FRAMES_PER_TRACK = 32  # frames per face track, evenly spaced over the whole track (detector and training)
STORE_SIDE = 160  # side of the cached aligned crop (the pipeline's 224 px crop, downscaled: inputs are <= 128 px)
CACHE_VERSION = f"fwa-faces/2 side={STORE_SIDE} k={FRAMES_PER_TRACK}"
IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXT = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


@dataclass
class FileFaces:
    """Faces of one media file: per track, the evenly spaced aligned crops, landmarks and frame times."""

    path: str
    sha256: str
    kind: str  # "image" or "video"
    tracks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    # each track: crops (n, S, S, 3) uint8, landmarks (n, 68, 2) float32 (crop coords), times (n,) float64
    error: str = ""

    @property
    def n_faces(self) -> int:
        return sum(len(t[0]) for t in self.tracks)


def media_files(root: Path) -> list[Path]:
    """Images and videos under ``root`` (sorted, hidden files skipped), by extension."""
    out = []
    for dirpath, dirnames, files in os.walk(root):
        dirnames.sort()
        for f in sorted(files):
            if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXT | VIDEO_EXT:
                out.append(Path(dirpath) / f)
    return out


def labelled_media(root: Path, exclude: list = ()) -> list[tuple[int, Path]]:
    """``(label, path)`` of the media under ``root/real`` (0) and ``root/fake`` (1), skipping names that match
    any of the compiled patterns ``exclude``: the cross-check folders of the trainer and its ablation tools."""
    return [(label, p) for label, sub in ((0, "real"), (1, "fake")) for p in media_files(root / sub)
            if not any(r.search(p.name) for r in exclude)]


def load_arrays(path: Path) -> list[np.ndarray] | None:
    """The list of arrays kept by :func:`cached_arrays` in ``path`` (``None`` when the file is absent)."""
    if not path.is_file():
        return None
    with np.load(path) as z:
        return [z[f"t{i}"] for i in range(int(z["n"]))]


def cached_arrays(path: Path, compute: Callable[[], list[np.ndarray]]) -> list[np.ndarray]:
    """A list of arrays (e.g. one per face track) kept in ``path`` (npz: ``n``, ``t0``, ``t1``, ...): loaded when
    present, else computed by ``compute()`` and saved."""
    got = load_arrays(path)
    if got is None:
        got = compute()
        np.savez(path, n=len(got), **{f"t{i}": t for i, t in enumerate(got)})
    return got


def cache_key(digest: str, video: bool = False) -> str:
    # videos: crops from the whole-duration tracks (images are unchanged, so their entries stay valid)
    tag = f"{CACHE_VERSION}|{digest}" + ("|frames evenly spaced in time|whole-duration tracks" if video else "")
    return hashlib.sha256(tag.encode()).hexdigest()[:40] + ".npz"


def evenly_timed(observations: list, k: int) -> list:
    """At most ``k`` observations of a track, nearest to ``k`` instants evenly spaced over its time span.

    The shared pipeline samples long videos densely in a few windows and sparsely between them, so spacing
    by index would crowd the dense windows; spacing by time covers the whole track.
    """
    n = len(observations)
    if n <= k:
        return list(observations)
    t = np.array([float(o.time_s) for o in observations])
    targets = np.linspace(t[0], t[-1], k)
    right = np.clip(np.searchsorted(t, targets), 1, n - 1)
    left = right - 1
    idx = np.where(np.abs(t[left] - targets) <= np.abs(t[right] - targets), left, right)
    return [observations[i] for i in np.unique(idx)]


def shrink(crop: np.ndarray, lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pipeline's aligned crop and its landmarks at :data:`STORE_SIDE` px (training and inference alike)."""
    import cv2

    s = STORE_SIDE / crop.shape[0]
    if abs(s - 1) < 1e-9:
        return crop, lm.astype(np.float32)
    small = cv2.resize(crop, (STORE_SIDE, STORE_SIDE), interpolation=cv2.INTER_AREA)
    return small, ((lm + 0.5) * s - 0.5).astype(np.float32)


def scored_tracks(fa) -> list[tuple[int, list]]:
    """``[(track_id, observations with a crop), ...]``: the face tracks this detector scores.

    A video's tracks are the pipeline's *whole-duration* ``video_tracks`` (dense windows and the sparse frames
    between them), so a long video is scored over its whole length, not only inside the dense windows; only
    observations whose aligned crop was kept are used. A still image has one observation per face.
    """
    src = fa.tracks if fa.is_image or not fa.video_tracks else fa.video_tracks
    out = [(tr.track_id, tr.crop_observations) for tr in src]
    return [(i, obs) for i, obs in out if obs]


def faces_from_analysis(fa, k: int = FRAMES_PER_TRACK) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``[(crops, landmarks, times), ...]`` per scored track of a FaceAnalysis (``k`` evenly spaced observations)."""
    tracks = []
    for _, observations in scored_tracks(fa):
        obs = evenly_timed(observations, k)
        pairs = [shrink(o.crop, o.crop_landmarks) for o in obs]
        tracks.append((np.stack([c for c, _ in pairs]), np.stack([lm for _, lm in pairs]),
                       np.array([float(o.time_s) for o in obs], dtype=np.float64)))
    return tracks


def extract(path: Path, cache_dir: Path | None, digest: str | None = None) -> FileFaces:
    """Faces of one file, from the cache when present (see the module docstring)."""
    path = Path(path)
    digest = digest or sha256_file(path)
    kind = "video" if path.suffix.lower() in VIDEO_EXT else "image"
    cache = Path(cache_dir) / cache_key(digest, kind == "video") if cache_dir else None
    if cache is not None and cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as z:
                n = int(z["n_tracks"])
                return FileFaces(str(path), digest, str(z["kind"]),
                                 [(z[f"crops{i}"], z[f"lms{i}"], z[f"times{i}"]) for i in range(n)], str(z["error"]))
        except Exception:  # noqa: BLE001 - a damaged cache entry is recomputed
            pass
    try:
        fa = face_analysis_for_file(path)
        kind = "image" if fa.is_image else "video"
        tracks, error = faces_from_analysis(fa), ""
    except NoFaceError as exc:
        tracks, error = [], str(exc)
    except Exception as exc:  # noqa: BLE001 - an unreadable file is skipped and counted
        tracks, error = [], f"{type(exc).__name__}: {exc}"
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"n_tracks": np.array(len(tracks)), "error": np.array(error), "kind": np.array(kind)}
        for i, (c, lm, t) in enumerate(tracks):
            arrays[f"crops{i}"], arrays[f"lms{i}"], arrays[f"times{i}"] = c, lm, t
        tmp = cache.with_name(cache.stem + f".{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, cache)
    return FileFaces(str(path), digest, kind, tracks, error)


def extract_all(paths: list[Path], cache_dir: Path | None, progress: Callable[[str, int, int], None] | None = None,
                digests: dict[str, str] | None = None) -> list[FileFaces]:
    out = []
    for i, p in enumerate(paths):
        if progress:
            progress(f"faces {p.name[:40]}", i, len(paths))
        out.append(extract(p, cache_dir, (digests or {}).get(str(p))))
    if progress:
        progress("faces", len(paths), len(paths))
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m forensics_plugins.fwa.data CACHE DIR...``: fill the cache (prints counts)."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    cache, dirs = Path(args[0]), [Path(a) for a in args[1:]]
    n = nf = 0
    for d in dirs:
        for p in media_files(d):
            ff = extract(p, cache)
            n += 1
            nf += bool(ff.tracks)
            if n % 200 == 0:
                print(f"{n} files, {nf} with faces", flush=True)
    print(f"done: {n} files, {nf} with faces", flush=True)


if __name__ == "__main__":
    main()
