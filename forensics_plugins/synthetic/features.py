"""The three cues of the synthetic-image detector, the image views they are computed on, and the format baseline.

Views (one code path for training, measurement and casework)
------------------------------------------------------------
* :func:`canonical` -- what the detector itself does to any image it receives: :func:`common` (shrink,
  never enlarge, to a shorter side of at most :data:`COMMON_SIDE` px), then the central crop of at most
  :data:`SIDE` x :data:`SIDE` px, without further resampling.
* :func:`train_view` -- confound control, applied identically to real and generated training images:
  lossless files get a first JPEG pass (q in [80, 95]); then the common size, a random rescale in
  [0.5, 1], a JPEG re-encode at a random quality in [70, 95], then :func:`canonical`. The random draw is
  seeded by the file's SHA-256 and the seed, so a file always gets the same view.
* :func:`test_view` -- the stated measurement condition: common size, 0.5x resize, JPEG quality 75,
  then :func:`canonical`.

Cues (all on the canonical image)
---------------------------------
* **spectral** (Durall et al. CVPR 2020; Frank et al. ICML 2020; Dzanic et al. NeurIPS 2020): the noise
  residual (grey image minus its 3x3 median) of the central square, Hann-windowed; its log power spectrum
  azimuthally averaged into :data:`RADIAL_BINS` bins of normalised frequency (mean removed), the slope of
  the upper-half decay (Dzanic), and peak statistics of the *whitened* spectrum (log power minus its
  radial median: up-sampling leaves isolated periodic peaks that this makes stand out, wherever they are).
* **residual** (Fridrich & Kodovsky, "Rich models for steganalysis", IEEE TIFS 2012): five high-pass
  residuals (1st, 2nd, 3rd order, 3x3 SQUARE and EDGE kernels), quantised and truncated to {-2..2};
  co-occurrences of three neighbouring samples horizontally and vertically (125 bins each, summed),
  normalised, square-rooted.
* **probe** (Ojha et al., CVPR 2023): the 1280-d global-average-pooled last feature map of the frozen
  ImageNet EfficientNet-Lite0; the feature map itself is kept for the per-patch heat map.
* **blocks** (multi-scale probe): mean and standard deviation over positions of the output of each of the
  seven Lite0 stages (16 ... 320 channels, strides 2 ... 32): earlier stages describe texture and local
  statistics rather than scene content, which is what has to carry from one generator to the next.
* **npr** (neighbouring-pixel relationships; Tan et al., CVPR 2024): the grey image minus its nearest-
  neighbour 2x down-and-up-sampled copy, i.e. each pixel minus the top-left pixel of its 2x2 cell. Up-sampling
  layers make these differences depend on the position inside the cell; features: per-position histograms
  (truncated, quantised) and horizontal co-occurrences for the cell grid at phase 0 and their difference
  to the grid shifted by one pixel (a camera image has no preferred phase), all normalised per image.

Format baseline: file type (from content), log file size, log width/height, bytes per pixel, JPEG quality
estimate and luminance quantisation-table summary, chroma subsampling, EXIF present. It sees only the file
container, never pixels; it shows how much a data set's format alone gives away.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np

RECIPE = "synthetic-features/3"
SIDE = 256
COMMON_SIDE = 512
TRAIN_SCALE = (0.5, 1.0)
TRAIN_QUALITY = (70, 95)
TEST_SCALE = 0.5
TEST_QUALITY = 75
RADIAL_BINS = 32
T_TRUNC = 2
CUES = ("residual", "blocks", "npr")  # the default cue set (a model names its own in its JSON)
ALL_CUES = ("spectral", "residual", "probe", "blocks", "npr")  # every cue the feature extractor computes
BLOCK_CHANNELS = (16, 24, 40, 80, 112, 192, 320)
NPR_T = 3
LITE0_MEAN_STD = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # timm's input normalisation of the TF-ported Lite0

_SRM_KERNELS = {
    "first": (np.array([[0, 0, 0], [0, -1, 1], [0, 0, 0]], np.float32), 1.0),
    "second": (np.array([[0, 0, 0], [1, -2, 1], [0, 0, 0]], np.float32), 2.0),
    "third": (np.array([[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, -3, 3, -1], [0, 0, 0, 0, 0],
                        [0, 0, 0, 0, 0]], np.float32), 3.0),
    "square3": (np.array([[-1, 2, -1], [2, -4, 2], [-1, 2, -1]], np.float32), 4.0),
    "edge3": (np.array([[-1, 2, -1], [2, -4, 2], [0, 0, 0]], np.float32), 2.0),
}
SPECTRAL_NAMES = ([f"radial_{i}" for i in range(RADIAL_BINS)]
                  + ["decay_slope", "peak_max", "peak_top10", "peak_count5", "axis_ratio", "hf_ratio"])
RESIDUAL_NAMES = [f"{k}_{i}" for k in _SRM_KERNELS for i in range(125)]
BLOCK_NAMES = [f"stage{i}_{stat}_{c}" for stat in ("mean", "std") for i, n in enumerate(BLOCK_CHANNELS)
               for c in range(n)]
FORMAT_NAMES = ["is_jpeg", "is_png", "is_webp", "is_other", "log_bytes", "log_width", "log_height",
                "bytes_per_pixel", "jpeg_quality", "q_luma_mean", "q_luma_dc", "subsampling_420", "has_exif"]


# ---------------------------------------------------------------------------------------------- views
def _resize(rgb: np.ndarray, w: int, h: int) -> np.ndarray:
    import cv2

    interp = cv2.INTER_AREA if w * h < rgb.shape[0] * rgb.shape[1] else cv2.INTER_CUBIC
    return cv2.resize(np.ascontiguousarray(rgb), (max(1, w), max(1, h)), interpolation=interp)


def common(rgb: np.ndarray, side: int = COMMON_SIDE) -> np.ndarray:
    """Shrink (never enlarge) so the shorter side is at most ``side`` pixels (area interpolation, aspect kept).

    Never enlarging matters: up-sampling is the very trace the cues look for, so an enlarged real photo would
    teach them that smooth, interpolated images are real."""
    h, w = rgb.shape[:2]
    s = side / min(h, w)
    if s >= 1:
        return rgb
    return _resize(rgb, int(round(w * s)), int(round(h * s)))


def canonical(rgb: np.ndarray, side: int = SIDE) -> np.ndarray:
    """The detector's input: :func:`common`, then the central crop of at most ``side``×``side`` pixels, at that
    resolution (no further resampling; smaller images are used whole)."""
    out = common(rgb)
    h, w = out.shape[:2]
    ch, cw = min(h, side), min(w, side)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(out[y0:y0 + ch, x0:x0 + cw])


def degrade(rgb: np.ndarray, scale: float, quality: int) -> np.ndarray:
    """Resize by ``scale`` then re-encode as JPEG at ``quality`` (4:2:0) and decode."""
    from forensics.api import decode_image, jpeg_bytes

    h, w = rgb.shape[:2]
    if abs(scale - 1) > 1e-9:
        rgb = _resize(rgb, int(round(w * scale)), int(round(h * scale)))
    return decode_image(jpeg_bytes(rgb, int(quality)))


def view_rng(sha256: str, seed: int) -> np.random.Generator:
    """The per-file random generator for augmentation (same file + seed = same view)."""
    return np.random.default_rng(int(hashlib.sha256(f"{sha256}:{seed}".encode()).hexdigest()[:16], 16))


def train_view(rgb: np.ndarray, rng: np.random.Generator, lossless: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """Training view (module docstring). A file stored losslessly (PNG) first gets one JPEG pass at a random
    quality in [80, 95], so both classes carry a JPEG history (real photos nearly always do)."""
    q0 = int(rng.integers(80, 96))
    s = float(rng.uniform(*TRAIN_SCALE))
    q = int(rng.integers(TRAIN_QUALITY[0], TRAIN_QUALITY[1] + 1))
    if lossless:
        rgb = degrade(rgb, 1.0, q0)
    return canonical(degrade(common(rgb), s, q)), {"scale": round(s, 4), "quality": q,
                                                   "first_quality": q0 if lossless else 0}


def test_view(rgb: np.ndarray) -> np.ndarray:
    return canonical(degrade(common(rgb), TEST_SCALE, TEST_QUALITY))


def test_view_jpeg(rgb: np.ndarray) -> bytes:
    """The test view as a file: the JPEG (quality ``TEST_QUALITY``) of the shrunk, ``TEST_SCALE``-resized image.
    The detector reading these bytes sees exactly :func:`test_view` of ``rgb`` (its shorter side is already at
    most ``COMMON_SIDE / 2``, so only the central crop remains), which is what makes the held-out-generator score
    recorded for it in the card the detector's out-of-fold output on that very file."""
    from forensics.api import jpeg_bytes

    c = common(rgb)
    h, w = c.shape[:2]
    if abs(TEST_SCALE - 1) > 1e-9:
        c = _resize(c, int(round(w * TEST_SCALE)), int(round(h * TEST_SCALE)))
    return jpeg_bytes(c, int(TEST_QUALITY))


# ---------------------------------------------------------------------------------------------- spectral
def _gray(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114).astype(np.float32)


def noise_residual(rgb: np.ndarray) -> np.ndarray:
    """Grey image minus its 3x3 median: scene content removed, up-sampling and noise traces kept."""
    import cv2

    g = _gray(rgb)
    med = cv2.medianBlur(np.clip(g, 0, 255).astype(np.uint8), 3).astype(np.float32)
    return g - med


def _radius(n: int) -> np.ndarray:
    f = np.fft.fftshift(np.fft.fftfreq(n))
    return np.sqrt(f[:, None] ** 2 + f[None, :] ** 2) / 0.5  # 1.0 = Nyquist along an axis


def log_spectrum(rgb: np.ndarray) -> np.ndarray:
    """Centred log power spectrum of the Hann-windowed noise residual of the central square."""
    r = noise_residual(rgb)
    h, w = r.shape
    n = min(h, w)
    y0, x0 = (h - n) // 2, (w - n) // 2
    r = r[y0:y0 + n, x0:x0 + n]
    r = r - r.mean()
    win = np.hanning(n).astype(np.float32)
    spec = np.fft.fftshift(np.abs(np.fft.fft2(r * win[:, None] * win[None, :])) ** 2)
    return np.log(spec + 1e-3).astype(np.float64)


def whitened_spectrum(logspec: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(whitened, radial_profile, bin_of_pixel)``: log power minus its median over each frequency ring."""
    n = logspec.shape[0]
    rad = _radius(n)
    b = np.minimum((rad * RADIAL_BINS).astype(int), RADIAL_BINS)  # bin RADIAL_BINS = the corners beyond Nyquist
    prof = np.zeros(RADIAL_BINS + 1)
    med = np.zeros(RADIAL_BINS + 1)
    for k in range(RADIAL_BINS + 1):
        vals = logspec[b == k]
        if vals.size:
            prof[k] = vals.mean()
            med[k] = np.median(vals)
    mad = np.zeros(RADIAL_BINS + 1)
    for k in range(RADIAL_BINS + 1):
        vals = logspec[b == k]
        if vals.size:
            mad[k] = np.median(np.abs(vals - med[k])) * 1.4826 + 1e-6
    white = (logspec - med[b]) / mad[b]
    return white, prof[:RADIAL_BINS], b


def spectral_features(rgb: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """The spectral cue's feature vector and, for the report, the spectra it came from."""
    ls = log_spectrum(rgb)
    white, prof, b = whitened_spectrum(ls)
    n = ls.shape[0]
    rad = _radius(n)
    inside = (rad > 0.1) & (b < RADIAL_BINS)  # away from DC, inside the Nyquist circle
    w = white[inside]
    top = np.sort(w)[-10:]
    c = n // 2
    axis = np.zeros_like(inside)
    axis[c, :] = True
    axis[:, c] = True
    axis &= inside
    off = inside & ~axis
    axis_ratio = float(white[axis].mean() - white[off].mean())
    bins = np.arange(RADIAL_BINS)
    hi = bins >= RADIAL_BINS // 2
    slope = float(np.polyfit(np.log((bins[hi] + 0.5) / RADIAL_BINS), prof[hi], 1)[0])
    hf_ratio = float(prof[hi].mean() - prof[(bins >= 2) & ~hi].mean())
    feats = np.concatenate([prof - prof.mean(),
                            [slope, float(w.max()), float(top.mean()), float((w > 5).mean() * 100), axis_ratio,
                             hf_ratio]])
    return feats.astype(np.float64), {"log_spectrum": ls, "whitened": white, "profile": prof}


# ---------------------------------------------------------------------------------------------- residual
def residual_features(rgb: np.ndarray) -> np.ndarray:
    """SRM-style co-occurrence features (5 kernels x 125 bins), normalised and square-rooted."""
    import cv2

    g = _gray(rgb)
    out = []
    for kernel, q in _SRM_KERNELS.values():
        r = cv2.filter2D(g, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT)
        r = np.clip(np.round(r / q), -T_TRUNC, T_TRUNC).astype(np.int64) + T_TRUNC
        r = r[2:-2, 2:-2]
        base = 2 * T_TRUNC + 1
        hist = np.zeros(base ** 3)
        for a in (r, r.T):  # horizontal and vertical triples
            idx = (a[:, :-2] * base + a[:, 1:-1]) * base + a[:, 2:]
            hist += np.bincount(idx.ravel(), minlength=base ** 3)
        out.append(np.sqrt(hist / max(hist.sum(), 1.0)))
    return np.concatenate(out)


# ---------------------------------------------------------------------------------------------- probe
def _lite0_input(rgb: np.ndarray):
    import torch

    mean, std = LITE0_MEAN_STD
    x = torch.from_numpy(np.array(rgb, dtype=np.float32)).div_(255.0)
    x = (x - torch.tensor(mean)) / torch.tensor(std)
    return x.permute(2, 0, 1)[None].contiguous()


def probe_map(model, rgb: np.ndarray):
    """The last Lite0 feature map (1280, h/32, w/32) of an image, as float64 NumPy."""
    import torch

    with torch.inference_mode():
        f = model.forward_features(_lite0_input(rgb))[0]
    return f.double().numpy()


def probe_maps(model, rgb: np.ndarray, keep_stages: bool = False):
    """One Lite0 forward pass: ``(last feature map (1280, h/32, w/32), stage statistics)`` -- the mean and the
    standard deviation over positions of each stage's output (:data:`BLOCK_NAMES` order); with ``keep_stages``
    also the list of stage outputs (float32 NumPy, (C, h_s, w_s)) for :func:`stage_statistics` of windows."""
    import torch

    stages = []
    with torch.inference_mode():
        h = model.bn1(model.conv_stem(_lite0_input(rgb)))
        for block in model.blocks:
            h = block(h)
            stages.append(h[0].numpy().copy())
        f = model.bn2(model.conv_head(h))[0]
    stats = stage_statistics(stages)
    return (f.double().numpy(), stats, stages) if keep_stages else (f.double().numpy(), stats)


def stage_statistics(stages: list[np.ndarray], box: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Mean and standard deviation over positions of each stage output, over the whole map or over the part of
    it under ``box`` = (y0, x0, y1, x1) given as fractions of the input's height and width."""
    means, sds = [], []
    for a in stages:
        if box is not None:
            hs, ws = a.shape[1:]
            r0, r1 = int(np.floor(box[0] * hs)), max(int(np.ceil(box[2] * hs)), int(np.floor(box[0] * hs)) + 1)
            c0, c1 = int(np.floor(box[1] * ws)), max(int(np.ceil(box[3] * ws)), int(np.floor(box[1] * ws)) + 1)
            a = a[:, r0:r1, c0:c1]
        v = a.reshape(a.shape[0], -1).astype(np.float64)
        means.append(v.mean(1))
        sds.append(v.std(1))
    return np.concatenate(means + sds)


# ---------------------------------------------------------------------------------------------- npr
def _npr_stats(g: np.ndarray) -> np.ndarray:
    """Per-position histograms and horizontal co-occurrences of the 2x2-cell differences of ``g`` (even size)."""
    h, w = (g.shape[0] // 2) * 2, (g.shape[1] // 2) * 2
    g = g[:h, :w]
    anchor = g[0::2, 0::2]
    base = 2 * NPR_T + 1
    out = []
    for dy, dx in ((0, 1), (1, 0), (1, 1)):
        d = np.clip(np.round(g[dy::2, dx::2] - anchor), -NPR_T, NPR_T).astype(np.int64) + NPR_T
        hist = np.bincount(d.ravel(), minlength=base).astype(np.float64)
        out.append(hist / max(hist.sum(), 1.0))
        q = np.clip(d - NPR_T, -1, 1) + 1  # co-occurrence of the sign-like 3-level code of neighbouring cells
        co = np.bincount((q[:, :-1] * 3 + q[:, 1:]).ravel(), minlength=9).astype(np.float64)
        out.append(co / max(co.sum(), 1.0))
    return np.concatenate(out)


def npr_features(rgb: np.ndarray) -> np.ndarray:
    """NPR cue (module docstring): statistics at phase 0 and their difference to phase (1, 1), square-rooted."""
    g = _gray(rgb)
    a = np.sqrt(_npr_stats(g))
    b = np.sqrt(_npr_stats(g[1:, 1:]))
    return np.concatenate([a, a - b])


def image_features(rgb: np.ndarray, model, keep_maps: bool = False) -> dict[str, Any]:
    """Every cue (:data:`ALL_CUES`) for one canonical image (+ the maps for the report when asked)."""
    spec, spec_maps = spectral_features(rgb)
    fmap, blocks, stages = probe_maps(model, rgb, keep_stages=True)
    out: dict[str, Any] = {"spectral": spec, "residual": residual_features(rgb), "probe": fmap.mean(axis=(1, 2)),
                           "blocks": blocks, "npr": npr_features(rgb)}
    if keep_maps:
        out["probe_map"] = fmap
        out["stages"] = stages
        out.update(spec_maps)
    return out


# ---------------------------------------------------------------------------------------------- format baseline
def format_features(path: str | os.PathLike) -> np.ndarray:
    """The container-only baseline's features of a file (see the module docstring)."""
    from forensics.api import open_media

    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(65536)
    info = open_media(path).image_info()
    fmt = (info.get("format") or "").upper()
    w, h = info["width"], info["height"]
    q = info.get("jpeg_quantization") or {}
    luma = np.asarray(q.get(0, []), dtype=np.float64)
    sub = info.get("jpeg_subsampling", -1)
    exif = b"Exif\x00\x00" in head
    return np.array([fmt == "JPEG", fmt == "PNG", fmt == "WEBP", fmt not in ("JPEG", "PNG", "WEBP"),
                     np.log(size + 1), np.log(w), np.log(h), size / max(w * h, 1),
                     (info.get("jpeg_quality_estimate") or 0) if q else 0, luma.mean() if luma.size else 0,
                     luma[0] if luma.size else 0, sub == 2, exif], dtype=np.float64)
