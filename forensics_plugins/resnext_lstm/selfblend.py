"""Temporally consistent self-blended sequences: self-supervised fakes from real clips only.

After Self-Blended Images (K. Shiohara and T. Yamasaki, "Detecting Deepfakes with Self-Blended
Images", CVPR 2022), extended across time as issue 17 asks for the sequence model: a real clip
of aligned face crops is blended with a transformed copy of **itself** through **one** mask for
the whole sequence, so the only cue is the blending boundary and the colour / sharpness / position
mismatch inside it, consistent over the frames, as in a face swap. Written from the paper's
description, not from its code.

The per-image pieces are those of the FWA slot's SBI generator (:mod:`forensics_plugins.fwa.sbi`: its
mask generator and its colour / frequency / position transforms), applied with **one** random state
per sequence so every frame gets the same mask and the same transform; when that plugin is not
installed, a minimal local equivalent is used (:func:`deformed_mask`, :func:`transform_frame`).

Per sequence (all parameters drawn once from ``rng``):

* **mask**: the convex hull of the mean landmarks of the sequence (68-point, crop coordinates),
  eroded by a random kernel and blurred by a random Gaussian, then kept inside the hull, times
  a blend ratio ``r`` in [0.25, 1];
* **source** (the "other face"): the same frames with a per-channel colour gain and offset, a
  blur or a sharpening (frequency jitter), and a small affine shift / scale; the gains and the
  shift drift **smoothly** over time (one slow sinusoid), never frame-to-frame noise;
* **blend**: ``out_t = m·source_t + (1 − m)·frame_t``, so pixels outside the mask are untouched.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> crops = np.full((4, 64, 64, 3), 120, np.uint8)
>>> lm = np.tile(np.array([[16, 16], [48, 16], [48, 52], [16, 52]] * 17, np.float32), (4, 1, 1))
>>> out, mask, params = blend_sequence(crops, lm, rng)
>>> out.shape == crops.shape and mask.shape == (64, 64) and 0.25 <= params["ratio"] <= 1.0
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # SBI samples full blends more often


def _sbi():
    """The FWA slot's SBI generator module, or ``None`` when that plugin is not installed."""
    try:
        from forensics_plugins.fwa import sbi
    except ImportError:
        return None
    return sbi if hasattr(sbi, "blend_mask") and hasattr(sbi, "colour_frequency") else None


def hull_mask(landmarks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(H, W)`` float32 mask, 1 inside the convex hull of ``landmarks`` (``(K, 2)``, x/y pixels)."""
    import cv2

    sbi = _sbi()
    if sbi is not None:
        return sbi.hull_mask(tuple(size), landmarks).astype(np.float32)
    h, w = size
    m = np.zeros((h, w), np.uint8)
    pts = np.round(np.asarray(landmarks, np.float64)).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillConvexPoly(m, cv2.convexHull(pts), 1)
    return m.astype(np.float32)


def deformed_mask(hull: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The hull eroded by a random elliptic kernel and Gaussian-blurred, then clipped to the hull."""
    import cv2

    h = hull.shape[0]
    kx, ky = (int(rng.integers(1, max(2, h // 12))) * 2 + 1 for _ in range(2))
    m = cv2.erode(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kx, ky)))
    if m.max() == 0:  # tiny hull: keep it whole
        m = hull.copy()
    sigma = float(rng.uniform(0.02, 0.06) * h)
    m = cv2.GaussianBlur(m, (0, 0), sigma)
    m = m / max(float(m.max()), 1e-6)
    return np.clip(m * hull, 0.0, 1.0).astype(np.float32)


def draw_params(rng: np.random.Generator, size: int) -> dict[str, Any]:
    """The per-sequence transform of the source copy (see the module docstring)."""
    return {
        "gain": rng.uniform(0.88, 1.12, 3).tolist(),
        "offset": rng.uniform(-12, 12, 3).tolist(),
        "drift": float(rng.uniform(0.0, 0.03)),  # amplitude of the slow gain drift
        "period": float(rng.uniform(1.0, 3.0)),  # drift period, in sequence lengths
        "phase": float(rng.uniform(0, 2 * np.pi)),
        "blur": float(rng.uniform(0.6, 1.6)) if rng.random() < 0.5 else 0.0,
        "sharpen": float(rng.uniform(0.3, 1.0)) if rng.random() < 0.5 else 0.0,
        "shift": rng.uniform(-0.03, 0.03, 2).tolist(),
        "scale": float(rng.uniform(0.95, 1.05)),
        "wobble": float(rng.uniform(0.0, 0.004) * size),  # smooth positional drift, pixels
        "ratio": float(rng.choice(RATIOS)),
    }


def transform_frame(frame: np.ndarray, p: dict[str, Any], t: float) -> np.ndarray:
    """The source copy of one frame at sequence time ``t`` in [0, 1] (float32 RGB)."""
    import cv2

    h, w = frame.shape[:2]
    s = np.sin(2 * np.pi * t / p["period"] + p["phase"])
    dx = p["shift"][0] * w + p["wobble"] * s
    dy = p["shift"][1] * h + p["wobble"] * np.cos(2 * np.pi * t / p["period"] + p["phase"])
    a = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, p["scale"])
    a[:, 2] += (dx, dy)
    x = cv2.warpAffine(frame, a, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT).astype(np.float32)
    if p["blur"] > 0:
        x = cv2.GaussianBlur(x, (0, 0), p["blur"])
    if p["sharpen"] > 0:
        x = x + p["sharpen"] * (x - cv2.GaussianBlur(x, (0, 0), 1.0))
    gain = np.asarray(p["gain"], np.float32) * (1.0 + p["drift"] * s)
    return np.clip(x * gain + np.asarray(p["offset"], np.float32), 0, 255)


def blend_sequence(crops: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Self-blend a sequence ``(T, H, W, 3)`` uint8 with its landmarks ``(T, 68, 2)`` (crop coordinates).

    Returns ``(blended uint8 (T, H, W, 3), mask (H, W) in [0, 1] incl. the blend ratio, parameters)``.
    One mask and one transform (drifting smoothly) serve every frame; pixels where the mask is 0 are
    returned unchanged. Deterministic for a given ``rng`` state.
    """
    crops = np.asarray(crops)
    n, h, w = crops.shape[:3]
    mean_lm = np.asarray(landmarks, np.float64).reshape(n, -1, 2).mean(axis=0)
    p = draw_params(rng, h)
    sbi = _sbi()
    if sbi is not None:  # the FWA slot's SBI pieces, one random state for the whole sequence
        mask = sbi.blend_mask((h, w), mean_lm, rng, ratio=p["ratio"])
        seeds = rng.integers(0, 2 ** 32, size=2)
        p.update(generator="forensics_plugins.fwa.sbi", blur=0.0, sharpen=0.0, shift=[0.0, 0.0], scale=1.0,
                 offset=[0.0, 0.0, 0.0], gain=[1.0, 1.0, 1.0])  # those come from the SBI transforms instead
    else:
        mask = deformed_mask(hull_mask(mean_lm, (h, w)), rng) * p["ratio"]
        p["generator"] = "local"
    m = mask[..., None]
    out = np.empty_like(crops)
    for i in range(n):
        frame = crops[i]
        if sbi is not None:  # same parameters every frame: re-seeded identically
            frame = sbi.colour_frequency(frame, np.random.default_rng(int(seeds[0])))
            frame = sbi.shift_source(frame, mean_lm, np.random.default_rng(int(seeds[1])))
        src = transform_frame(frame, p, i / max(1, n - 1))
        mixed = m * src + (1.0 - m) * crops[i].astype(np.float32)
        out[i] = np.where(m > 0, np.clip(np.round(mixed), 0, 255), crops[i]).astype(np.uint8)
    return out, mask, p


def self_blend_batch(clips: list[tuple[np.ndarray, np.ndarray]], seq_len: int, rng: np.random.Generator,
                     flip: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """For every real clip ``(crops, landmarks)``: one untouched and one self-blended window of ``seq_len``.

    Returns ``(sequences (2·len(clips), seq_len, H, W, 3) uint8, labels (2·len(clips),))`` with
    label 1 = blended. The two windows of a clip start at the same frame, so the pair differs only
    by the blend.
    """
    seqs, labels = [], []
    for crops, lms in clips:
        start = int(rng.integers(0, max(1, len(crops) - seq_len + 1)))
        idx = np.minimum(np.arange(start, start + seq_len), len(crops) - 1)
        w, lw = crops[idx], lms[idx]
        if flip and rng.random() < 0.5:
            w = w[:, :, ::-1]
            lw = lw.copy()
            lw[..., 0] = w.shape[2] - 1 - lw[..., 0]
        blended, _, _ = blend_sequence(np.ascontiguousarray(w), lw, rng)
        seqs += [np.ascontiguousarray(w), blended]
        labels += [0, 1]
    return np.stack(seqs), np.array(labels, np.int64)
