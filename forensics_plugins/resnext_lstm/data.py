"""Face-crop sequences for the ResNeXt-LSTM: extraction, caching, windows.

Crops come from the shared face pipeline (:mod:`forensics.faces`), exactly as at
analysis time: the largest face track, aligned crops resized to 112×112. Training
extracts them once per video and caches them as ``.npz`` under
``$FORENSICS_CACHE`` (default ``~/.cache/forensics``)``/resnext_lstm/crops/``, keyed by
the video's SHA-256 and the crop settings; the cache is never used at analysis time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .model import INPUT_SIZE

CROP_VERSION = 2  # bump when the crops change (face pipeline, size, selection); 2: landmarks stored too


def cache_root() -> Path:
    return Path(os.environ.get("FORENSICS_CACHE", Path.home() / ".cache" / "forensics")) / "resnext_lstm"


def track_crops(fa, size: int = INPUT_SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Crops of the largest face track as ``(N, size, size, 3)`` uint8, with frame indices and times.

    Returns ``(crops, frame_indices, times_s, track_id)``.
    """
    import cv2

    track = fa.largest_track
    crops = np.stack([cv2.resize(np.asarray(o.crop), (size, size), interpolation=cv2.INTER_AREA)
                      for o in track.observations])
    return crops, track.frame_indices, track.times, track.track_id


def track_landmarks(fa, size: int = INPUT_SIZE) -> np.ndarray:
    """68-point landmarks of the largest track in the coordinates of the resized crops, ``(N, 68, 2)`` float32."""
    track = fa.largest_track
    return np.stack([np.asarray(o.crop_landmarks, np.float32) * (size / np.asarray(o.crop).shape[1])
                     for o in track.observations]).astype(np.float32)


def cached_clip(path: str | os.PathLike, cache_dir: Path | None = None,
                size: int = INPUT_SIZE) -> tuple[np.ndarray | None, np.ndarray | None, dict]:
    """``(crops, landmarks, info)`` of one video, from the cache or extracted now (``None``s without a face)."""
    crops, info = cached_crops(path, cache_dir, size)
    if crops is None:
        return None, None, info
    with np.load(Path(info["_npz"])) as z:
        return crops, z["landmarks"], info


def cached_crops(path: str | os.PathLike, cache_dir: Path | None = None,
                 size: int = INPUT_SIZE) -> tuple[np.ndarray | None, dict]:
    """Face crops of one video (or image), from the cache or extracted now.

    Returns ``(crops or None, info)``; ``None`` with ``info["reason"]`` when no face was found.
    """
    from forensics.api import MediaError, face_analysis, open_media

    media = open_media(path, hashed=True)
    item = media.item
    if item.hashes is None:
        return None, {"reason": "; ".join(item.messages) or "unreadable"}
    cache_dir = Path(cache_dir or cache_root() / "crops")
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = f"{item.hashes.sha256}-v{CROP_VERSION}-{size}"
    npz = cache_dir / f"{key}.npz"
    meta = cache_dir / f"{key}.json"
    if npz.is_file() and meta.is_file():
        info = json.loads(meta.read_text(encoding="utf-8"))
        if info.get("crops"):
            info["_npz"] = str(npz)
            with np.load(npz) as z:
                return z["crops"], info
        return None, info
    try:
        fa = face_analysis(media)
        crops, idx, times, tid = track_crops(fa, size)
        info = {"crops": int(len(crops)), "fps": fa.fps, "frames_sampled": fa.frames_sampled,
                "tracks": len(fa.tracks), "sha256": item.hashes.sha256, "file": Path(path).name}
        tmp = npz.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, crops=crops, frame_indices=idx, times=times, landmarks=track_landmarks(fa, size))
        os.replace(tmp, npz)
    except MediaError as exc:
        crops, info = None, {"crops": 0, "reason": str(exc), "sha256": item.hashes.sha256, "file": Path(path).name}
    meta.write_text(json.dumps(info), encoding="utf-8")
    if crops is not None:
        info["_npz"] = str(npz)
    return crops, info


def window_starts(n: int, seq_len: int, count: int) -> list[int]:
    """Start indices of up to ``count`` evenly spread windows of ``seq_len`` in a sequence of ``n``.

    >>> window_starts(100, 20, 3)
    [0, 40, 80]
    >>> window_starts(15, 20, 3)
    [0]
    """
    if n <= seq_len:
        return [0]
    last = n - seq_len
    count = max(1, min(count, last + 1))
    if count == 1:
        return [last // 2]
    return sorted({round(i * last / (count - 1)) for i in range(count)})


def take_window(crops: np.ndarray, start: int, seq_len: int) -> np.ndarray:
    """``seq_len`` consecutive crops from ``start``; a shorter track is padded by repeating its last crop."""
    w = crops[start:start + seq_len]
    if len(w) < seq_len:
        w = np.concatenate([w, np.repeat(w[-1:], seq_len - len(w), axis=0)])
    return w
