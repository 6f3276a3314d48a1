"""JPEG double-compression analyses as plain functions over NumPy arrays.

* **Aligned double quantisation** (Lin, He, Tang & Tang, "Fast, automatic and fine-grained tampered
  JPEG image detection via DCT coefficient analysis", Pattern Recognition 42, 2009; Bianchi & Piva,
  "Image forgery localization via block-grained analysis of JPEG artifacts", IEEE TIFS 7(3), 2012).
  A JPEG saved twice on the same 8×8 grid, first with step ``q1`` then with ``q2``, has DCT-coefficient
  histograms with a periodic pattern that a singly compressed region lacks. Per frequency we estimate
  the single-compression histogram by *calibration* (the decoded luminance shifted by 4 pixels, so the
  grid no longer lines up, and re-transformed: Bianchi & Piva), simulate the double-compression
  histogram for every candidate ``q1`` (with rounding noise), fit the mixture
  ``α·p_DQ + (1 − α)·p_SQ`` by EM and keep the ``q1`` of highest likelihood. Each block's evidence is the
  summed log-likelihood ratio ``log p_DQ(c)/p_SQ(c)`` of its coefficients; a pasted region that did not
  share the host's first compression shows as *no* double quantisation inside a doubly compressed image.
* **Non-aligned double compression / block-grid inconsistency** (blocking-artefact grid, after Li,
  Yuan & Yu, "Passive detection of doctored JPEG image via block artifact grid extraction", Signal
  Processing 89, 2009): the strength of an 8×8 blocking grid at each of the 7 non-zero offsets, per
  window. A region carrying a grid that the current file's grid does not explain was compressed on a
  different grid (pasted off-grid, or cropped) before the last save.
* **JPEG ghosts** (H. Farid, "Exposing digital forgeries from JPEG ghosts", IEEE TIFS 4(1), 2009): re-save at
  a range of qualities; a region first saved at a lower quality than the rest shows a local minimum of
  the difference at that quality.

Example
-------
>>> import numpy as np
>>> y = np.zeros((2, 3, 8, 8)); luma = blocks_to_image(idct_blocks(y)); luma.shape
(16, 24)
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass

import numpy as np

from forensics.api import STD_CHROMA_QT, STD_LUMA_QT, scaled_quant_table

# Natural (row-major) index of the 8×8 DCT position for each zig-zag index.
ZIGZAG = np.array([
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14,
    21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60,
    61, 54, 47, 55, 62, 63])
# libjpeg's standard tables (ITU-T T.81 Annex K), quality 50, natural order (shared: forensics.api).
STD_LUMA, STD_CHROMA = STD_LUMA_QT, STD_CHROMA_QT

N_FREQ = 15  # AC frequencies analysed (zig-zag 1..15): low frequencies carry most non-zero coefficients
MAX_BIN = 40  # |c| above this are treated as neutral (too few samples per bin)
NOISE_SIGMA = 0.6  # std of the DCT-domain rounding/clipping error between the two compressions (pixel units)
TERM_CLIP = 3.0  # per-coefficient |log LR| cap, so one odd coefficient cannot decide a block


@dataclass
class JpegCoefficients:
    """Quantised DCT coefficients of the luminance and the file's quantisation tables."""

    y: np.ndarray  # (blocks_y, blocks_x, 8, 8) int32, quantised
    qt_luma: np.ndarray  # (8, 8) int, natural order
    qt_chroma: np.ndarray | None
    width: int
    height: int
    components: int
    progressive: bool
    sampling: list
    reliable: np.ndarray | None = None  # (8, 8) bool; set when the table was estimated from pixels (see below)
    off_grid: np.ndarray | None = None  # (by, bx) pixel path only: share of a block's coefficients off the lattice


scaled_standard_table = scaled_quant_table  # libjpeg's jpeg_quality_scaling (forensics.api)


def standard_quality(table: np.ndarray, base: np.ndarray = STD_LUMA) -> int | None:
    """The libjpeg quality whose scaled standard table equals ``table`` exactly, else ``None``."""
    t = np.asarray(table).reshape(-1)
    for q in range(1, 101):
        if np.array_equal(scaled_standard_table(q, base), t):
            return q
    return None


def truncated_jpeg(data: bytes) -> bool:
    """Whether a JPEG stream ends before its end-of-image marker: no FFD9 after the start of its last scan
    (FFDA); a stream without any scan is left to libjpeg's own error. Entropy-coded data cannot hold FFD9 (0xFF bytes are stuffed), and an EXIF thumbnail's own markers
    come before the main image's scans, so a thumbnail's EOI does not hide a truncated main image."""
    sos = data.rfind(b"\xff\xda")
    return sos >= 0 and data.find(b"\xff\xd9", sos + 2) < 0


def read_coefficients(data: bytes) -> JpegCoefficients:
    """Read the quantised DCT coefficients and tables of a JPEG (``jpeglib``, i.e. libjpeg, no decoding).

    Raises ``ValueError`` when the bytes are not a readable JPEG, and for a truncated one (no end-of-image marker
    after its last scan): libjpeg would pad the missing blocks and print a warning on the terminal, and maps of
    padded coefficients are not evidence.
    """
    import jpeglib

    if truncated_jpeg(data):
        raise ValueError("the JPEG is truncated (no end-of-image marker after its last scan): its DCT coefficients "
                         "are incomplete")

    fd, path = tempfile.mkstemp(suffix=".jpg", prefix="forensics-dq-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            jpg = jpeglib.read_dct(path)
            y = np.asarray(jpg.Y, dtype=np.int32)
            qt = np.asarray(jpg.qt, dtype=np.int64)
            tbl = list(np.asarray(jpg.quant_tbl_no).reshape(-1))
            comps = int(jpg.num_components) if getattr(jpg, "num_components", None) else (3 if jpg.has_chrominance else 1)
            info = JpegCoefficients(
                y=y, qt_luma=qt[int(tbl[0])].reshape(8, 8),
                qt_chroma=qt[int(tbl[1])].reshape(8, 8) if len(tbl) > 1 and len(qt) > int(tbl[1]) else None,
                width=int(jpg.width), height=int(jpg.height), components=comps,
                progressive=bool(jpg.progressive_mode),
                sampling=np.asarray(jpg.samp_factor).tolist() if jpg.samp_factor is not None else [])
        except (OSError, RuntimeError, ValueError, TypeError, IndexError) as exc:
            raise ValueError(f"the JPEG's DCT coefficients could not be read: {exc}") from exc
    finally:
        os.unlink(path)
    if y.ndim != 4 or y.shape[2:] != (8, 8) or y.shape[0] < 1 or y.shape[1] < 1:
        raise ValueError("the JPEG has no luminance coefficients")
    return info


def idct_blocks(coef: np.ndarray) -> np.ndarray:
    """Inverse 2-D DCT of (…, 8, 8) blocks (JPEG's DCT is the orthonormal DCT-II)."""
    from scipy.fft import idctn

    return idctn(coef, axes=(-2, -1), norm="ortho")


def dct_blocks(pixels: np.ndarray) -> np.ndarray:
    """2-D DCT-II (orthonormal) of (…, 8, 8) blocks."""
    from scipy.fft import dctn

    return dctn(pixels, axes=(-2, -1), norm="ortho")


def blocks_to_image(blocks: np.ndarray) -> np.ndarray:
    """(by, bx, 8, 8) → (8·by, 8·bx)."""
    by, bx = blocks.shape[:2]
    return blocks.transpose(0, 2, 1, 3).reshape(by * 8, bx * 8)


def image_to_blocks(img: np.ndarray) -> np.ndarray:
    """(H, W) → (H//8, W//8, 8, 8), edges cropped."""
    h, w = (img.shape[0] // 8) * 8, (img.shape[1] // 8) * 8
    return img[:h, :w].reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3)


def decoded_luma(jc: JpegCoefficients) -> np.ndarray:
    """The luminance the decoder reconstructs, before rounding and clipping (float, 0..255 scale)."""
    return blocks_to_image(idct_blocks(jc.y * jc.qt_luma)) + 128.0


# ------------------------------------------------------------------------ JPEG history read from pixels
PIXEL_MIN_FREQ = 5  # AC frequencies (of zig-zag 1..15) with a recovered step for "this image was a JPEG"
PIXEL_ON_GRID = 0.7  # chance-corrected share of non-zero coefficients within the tolerance of a multiple of the step


def luma_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """JPEG's (JFIF) luminance of an RGB or grey uint8 image, float."""
    a = np.asarray(rgb, dtype=np.float64)
    if a.ndim == 2:
        return a
    return a[..., :3] @ np.array([0.299, 0.587, 0.114])


def estimate_step(c: np.ndarray, max_q: int = 64, min_count: int = 30) -> int | None:
    """The quantisation step of one DCT frequency recomputed from decoded pixels: the largest ``q`` ≥ 2 such that
    the share of the non-zero coefficients within ``tol = min(1, q/4)`` of a multiple of ``q``, corrected for the share
    ``2·tol/q`` a random step catches by chance, is at least :data:`PIXEL_ON_GRID` (rounding to 8-bit pixels moves a
    coefficient by a fraction of a grey level; content pasted after decoding moves it anywhere, so up to about 30 % of
    such coefficients still leave the step readable). ``None`` when there are too few non-zero coefficients or no
    step fits."""
    c = c[np.abs(c) > 1.0]
    if c.size < min_count:
        return None
    c = c[:: max(1, c.size // 20000)]  # an evenly spaced subset bounds the cost on large images
    for q in range(max_q, 1, -1):
        tol = min(1.0, q / 4)
        share = float((np.abs(c - q * np.round(c / q)) <= tol).mean())
        chance = min(1.0, 2 * tol / q)  # what a random step catches by chance
        if (share - chance) / max(1 - chance, 1e-9) >= PIXEL_ON_GRID:
            return q
    return None


def coefficients_from_pixels(rgb: np.ndarray) -> JpegCoefficients | None:
    """Quantised luminance DCT coefficients and table of an image that was a JPEG before it was decoded and saved
    in another format (PNG, BMP, TIFF, ...), recomputed from the pixels on the 8×8 grid anchored at the top-left
    corner (Fan & de Queiroz, "Identification of bitmap compression history", IEEE TIP 12(2), 2003).

    Frequencies whose step cannot be recovered are marked unreliable (kept unquantised, never analysed). Returns
    ``None`` when fewer than :data:`PIXEL_MIN_FREQ` of the 15 lowest AC frequencies show a step: no JPEG history
    on that grid (never compressed, resized or cropped after decoding).
    """
    y = luma_from_rgb(rgb)
    if min(y.shape) < 32:
        return None
    B = dct_blocks(image_to_blocks((y - 128.0).astype(np.float32)))
    qt = np.ones((8, 8), np.int64)
    reliable = np.zeros((8, 8), bool)
    for zz in range(64):
        r, c = divmod(int(ZIGZAG[zz]), 8)
        q = estimate_step(B[:, :, r, c].reshape(-1))
        if q is not None:
            qt[r, c], reliable[r, c] = q, True
    if int(sum(reliable.reshape(-1)[ZIGZAG[1:N_FREQ + 1]])) < PIXEL_MIN_FREQ:
        return None
    coef = np.round(B / qt).astype(np.int32)
    h, w = y.shape
    comps = 1 if np.asarray(rgb).ndim == 2 else 3
    return JpegCoefficients(y=coef, qt_luma=qt, qt_chroma=None, width=w, height=h, components=comps,
                            progressive=False, sampling=[], reliable=reliable, off_grid=off_grid_share(B, qt, reliable, y))


def off_grid_share(B: np.ndarray, qt: np.ndarray, reliable: np.ndarray, luma: np.ndarray) -> np.ndarray:
    """Per 8×8 block, the share of its informative DCT coefficients (reliable AC frequencies of step ≥ 3, |c| > 1)
    that lie off the lattice of multiples of the image's quantisation steps (JPEG compatibility, after Fan & de
    Queiroz 2003). Content decoded from this JPEG sits on the lattice (share ≈ 0); content pasted or painted in after
    decoding, or carried over from another compression grid, does not (share ≈ 0.5 or more). NaN where a block has
    fewer than 3 informative coefficients or clipped pixels (clipping moves coefficients off the lattice)."""
    sel = reliable & (qt >= 3)
    sel[0, 0] = False
    by, bx = B.shape[:2]
    out = np.full((by, bx), np.nan)
    if not sel.any():
        return out
    c = B[:, :, sel]  # (by, bx, k)
    q = qt[sel].astype(np.float32)
    tol = np.minimum(1.0, q / 4)
    informative = np.abs(c) > 1.0
    off = (np.abs(c - q * np.round(c / q)) > tol) & informative
    n = informative.sum(-1)
    px = image_to_blocks(luma)
    clipped = ((px <= 0.5) | (px >= 254.5)).reshape(by, bx, 64).any(-1)
    ok = (n >= 3) & ~clipped
    out[ok] = off.sum(-1)[ok] / n[ok]
    return out


def table_quality(jc: JpegCoefficients) -> int | None:
    """libjpeg quality whose standard luminance table is closest to the (reliable entries of the) table."""
    rel = np.ones((8, 8), bool) if jc.reliable is None else jc.reliable
    if not rel.any():
        return None
    t = jc.qt_luma.astype(np.float64)[rel]
    errs = [np.abs(scaled_standard_table(q).reshape(8, 8)[rel] - t).sum() for q in range(1, 101)]
    return int(np.argmin(errs)) + 1


# ----------------------------------------------------------------------------------------- aligned DQ
def _hist(c: np.ndarray) -> np.ndarray:
    return np.bincount(np.clip(c, -MAX_BIN - 1, MAX_BIN + 1) + MAX_BIN + 1, minlength=2 * MAX_BIN + 3).astype(float)


def _model_histograms(x: np.ndarray, q2: int, q1_candidates: list[int]) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Single- and double-compression histograms of quantised values predicted from unquantised samples ``x``."""
    from scipy.special import ndtr

    edges = (np.arange(-MAX_BIN - 1, MAX_BIN + 2)[None, :] + np.array([[-0.5], [0.5]])[:, None, :]) * q2  # 2×1×B
    p_sq = _hist(np.round(x / q2).astype(np.int64)) + 0.5
    p_sq /= p_sq.sum()
    out = {}
    for q1 in q1_candidates:
        k = np.round(x / q1).astype(np.int64)
        vals, counts = np.unique(k, return_counts=True)
        v = (vals * q1).astype(float)[:, None]
        prob = ndtr((edges[1] - v) / NOISE_SIGMA) - ndtr((edges[0] - v) / NOISE_SIGMA)  # (nk, B)
        prob[:, 0] = ndtr((edges[1, 0, 0] - v[:, 0]) / NOISE_SIGMA)  # open-ended tails
        prob[:, -1] = 1 - ndtr((edges[0, 0, -1] - v[:, 0]) / NOISE_SIGMA)
        h = counts.astype(float) @ prob + 0.5
        out[q1] = h / h.sum()
    return p_sq, out


def _em_alpha(h: np.ndarray, p_dq: np.ndarray, p_sq: np.ndarray, iters: int = 40) -> tuple[float, float]:
    """Fit ``h ~ α p_dq + (1-α) p_sq`` by EM; returns (α, log-likelihood)."""
    a = 0.5
    for _ in range(iters):
        mix = a * p_dq + (1 - a) * p_sq
        a = float(np.clip((h * a * p_dq / mix).sum() / max(h.sum(), 1e-9), 1e-3, 1 - 1e-3))
    return a, float((h * np.log(a * p_dq + (1 - a) * p_sq)).sum())


@dataclass
class AlignedDQ:
    """Result of the aligned double-quantisation analysis."""

    block_llr: np.ndarray  # (by, bx): Σ log p_DQ/p_SQ over the frequencies with DQ evidence
    frequencies: list  # per analysed frequency: zigzag index, q2, q1 estimate, α, gain (nats per coefficient)
    used: int  # frequencies with double-quantisation evidence


def aligned_dq(jc: JpegCoefficients, n_freq: int = N_FREQ, min_gain: float = 0.01, min_nats: float = 12.0,
               min_alpha: float = 0.5) -> AlignedDQ:
    """Aligned double-quantisation analysis of the luminance (see module docstring).

    A frequency is *used* when the best double-compression mixture beats the single-compression model
    by at least ``min_nats`` and ``min_gain`` nats per coefficient (the cost of searching the ``q1``
    candidates is well below that) and the fitted DQ share ``α`` is at least ``min_alpha``: the analysis
    localises a minority region that lacks the double quantisation of the rest of the image.
    """
    by, bx = jc.y.shape[:2]
    luma = decoded_luma(jc)
    cal = dct_blocks(image_to_blocks(luma[4:, 4:] - 128.0)) if min(luma.shape) > 16 else None
    llr = np.zeros((by, bx))
    freqs = []
    used = 0
    for zz in range(1, n_freq + 1):
        pos = int(ZIGZAG[zz])
        r, c = divmod(pos, 8)
        q2 = int(jc.qt_luma[r, c])
        coeffs = jc.y[:, :, r, c].astype(np.int64)
        entry = {"zigzag": zz, "q2": q2, "q1": None, "alpha": 0.0, "gain_nats_per_coef": 0.0, "used": False}
        freqs.append(entry)
        if cal is None or (jc.reliable is not None and not jc.reliable[r, c]):
            continue
        x = cal[:, :, r, c].reshape(-1)
        h = _hist(coeffs.reshape(-1))
        if (np.abs(coeffs) > 0).mean() < 0.02:  # nearly all zero: no histogram to read
            continue
        # q1 dividing q2 leaves no trace (the DQ histogram equals the SQ one): not a candidate
        cands = [q for q in range(2, min(120, 4 * q2 + 8) + 1) if q != q2 and not (q < q2 and q2 % q == 0)]
        if not cands:
            continue
        p_sq, p_dq = _model_histograms(x, q2, cands)
        ll_sq = float((h * np.log(p_sq)).sum())
        best = max(((q1, *_em_alpha(h, p_dq[q1], p_sq)) for q1 in cands), key=lambda t: (t[2], -t[0]))
        q1, alpha, ll = best
        gain = (ll - ll_sq) / max(h.sum(), 1.0)
        entry.update(q1=int(q1), alpha=round(alpha, 4), gain_nats_per_coef=round(gain, 5))
        if ll - ll_sq >= min_nats and gain >= min_gain and alpha >= min_alpha:
            used += 1
            entry["used"] = True
            term = np.clip(np.log(p_dq[q1]) - np.log(p_sq), -TERM_CLIP, TERM_CLIP)
            term[0] = term[-1] = 0.0  # outside ±MAX_BIN: neutral
            llr += term[np.clip(coeffs, -MAX_BIN - 1, MAX_BIN + 1) + MAX_BIN + 1]
    return AlignedDQ(block_llr=llr, frequencies=freqs, used=used)


def tamper_probability_map(llr: np.ndarray, window: int = 3) -> np.ndarray:
    """Per block P(not doubly compressed) from the block log-likelihood ratios, pooled over ``window``² blocks."""
    from scipy import ndimage

    pooled = ndimage.uniform_filter(llr, size=window, mode="nearest") * window  # ~ sum over a window row
    return 1.0 / (1.0 + np.exp(np.clip(pooled, -50, 50)))


# ----------------------------------------------------------------------------------------- block grid
def grid_phase_profiles(luma: np.ndarray, win: int = 32, step: int = 16) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Blocking-artefact strength at each horizontal/vertical offset 0..7, per window.

    ``Z(x) = |d(x)| − (|d(x−1)| + |d(x+1)|)/2`` with ``d(x) = Y(x) − Y(x−1)``: positive where a block
    boundary lies between ``x−1`` and ``x``. Per window: the median over its columns (rows) ``≡ k (mod 8)`` of
    their mean ``Z``, divided by the window's mean ``|d|`` (texture). Returns arrays of shape
    (ny, nx, 8) for columns and rows, and the window grid (ys, xs).
    """
    y = np.asarray(luma, dtype=np.float64)
    H, W = y.shape
    ys = list(range(0, max(H - win, 0) + 1, step)) or [0]
    xs = list(range(0, max(W - win, 0) + 1, step)) or [0]
    prof_c = _window_phase_means(*_boundary_energy(y), ys, xs, win)
    prof_r = _window_phase_means(*_boundary_energy(np.ascontiguousarray(y.T)), xs, ys, win).transpose(1, 0, 2)
    return prof_c, prof_r, (ys, xs)


def _boundary_energy(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Along rows: ``d[:, x] = |Y(x) − Y(x−1)|`` and ``z[:, x] = d(x) − (d(x−1) + d(x+1))/2`` (0 at the borders)."""
    d = np.zeros_like(y)
    np.abs(y[:, 1:] - y[:, :-1], out=d[:, 1:])
    z = d.copy()
    z[:, 2:-1] -= 0.5 * (d[:, 1:-2] + d[:, 3:])
    z[:, 1] = 0
    z[:, -1] = 0
    return z, d


def _window_phase_means(z: np.ndarray, d: np.ndarray, ys: list, xs: list, win: int) -> np.ndarray:
    """Per window and phase ``k = x mod 8``: the *median* over the window's block boundaries of phase ``k`` of the
    column means of ``z``, divided by (mean ``d`` + 0.5).

    A JPEG grid raises every boundary of its phase; one strong straight edge (a paste boundary, an object
    contour) raises only one, and the median over the window's ``win/8`` boundaries ignores it. Windows start at
    ``ys`` × ``xs`` (multiples of 8) and span ``win`` pixels (clipped to the image).
    """
    from numpy.lib.stride_tricks import sliding_window_view

    H, W = z.shape
    W8 = (W // 8) * 8
    wy, wx = min(win, H), max(8, (min(win, W8) // 8) * 8)
    ys_a, xb = np.asarray(ys), np.asarray(xs) // 8
    nb = wx // 8

    def column_means(a):
        cs = np.empty((H + 1, W))
        cs[0] = 0
        np.cumsum(a, axis=0, out=cs[1:])
        return (cs[ys_a + wy] - cs[ys_a])[:, :W8].reshape(len(ys), W8 // 8, 8) / wy  # (ny, block columns, phase)

    vz = sliding_window_view(column_means(z), nb, axis=1)[:, xb]  # (ny, nx, 8, nb)
    vd = sliding_window_view(column_means(d), nb, axis=1)[:, xb]
    return np.median(vz, axis=-1) / (vd.mean(axis=(-2, -1))[..., None] + 0.5)


def grid_inconsistency(luma: np.ndarray, win: int = 32, step: int = 16) -> dict:
    """Per-window strength of a blocking grid at a non-zero offset, and the offsets found.

    Returns ``strength`` (ny, nx): the strongest non-zero-offset peak minus the median of the other non-zero
    offsets, summed over the two directions; ``offset`` (ny, nx, 2): the (row, column) offset of that peak;
    ``aligned`` (ny, nx): the strength of the current (offset 0) grid.
    """
    pc, pr, grid = grid_phase_profiles(luma, win, step)

    def peak(p):
        nz = p[..., 1:]
        k = nz.argmax(axis=-1)
        top = np.take_along_axis(nz, k[..., None], axis=-1)[..., 0]
        rest = np.sort(nz, axis=-1)[..., :-1]
        return np.maximum(top - np.median(rest, axis=-1), 0), k + 1

    sc, kc = peak(pc)
    sr, kr = peak(pr)
    return {"strength": sc + sr, "offset": np.stack([kr, kc], axis=-1), "aligned": pc[..., 0] + pr[..., 0],
            "grid": grid, "window": win}


# ----------------------------------------------------------------------------------------- JPEG ghosts
GHOST_QUALITIES = tuple(range(50, 100, 5))


def jpeg_ghosts(rgb: np.ndarray, qualities=GHOST_QUALITIES, block: int = 16) -> dict:
    """Farid's JPEG ghosts: per ``block``² tile, the normalised squared difference to a re-save at each quality.

    Returns ``diff`` (nq, ny, nx) normalised to [0, 1] per tile across qualities, ``raw`` (nq, ny, nx) mean
    squared differences, ``textured`` (ny, nx) tiles with enough difference to be read, and ``qualities``.
    """
    from PIL import Image

    h, w = (rgb.shape[0] // block) * block, (rgb.shape[1] // block) * block
    img = rgb[:h, :w].astype(np.float32)
    raws = []
    for q in qualities:
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=int(q))
        buf.seek(0)
        with Image.open(buf) as im:
            re = np.asarray(im.convert("RGB"), dtype=np.float32)[:h, :w]
        d = ((img - re) ** 2).mean(axis=2)
        raws.append(d.reshape(h // block, block, w // block, block).mean(axis=(1, 3)))
    raw = np.stack(raws)
    lo, hi = raw.min(axis=0), raw.max(axis=0)
    textured = (hi - lo) > 2.0
    norm = np.where(textured, (raw - lo) / np.maximum(hi - lo, 1e-6), 1.0)
    return {"diff": norm, "raw": raw, "textured": textured, "qualities": list(qualities)}


def ghost_map(ghosts: dict, below: int | None = None) -> tuple[np.ndarray, int | None]:
    """Ghost strength per tile: how much darker the tile is than the image median at its best quality.

    Only qualities below ``below`` (the file's own estimated quality) are read: at and above it every
    region reaches its minimum. Returns (map, quality with the strongest ghost).
    """
    qs = ghosts["qualities"]
    keep = [i for i, q in enumerate(qs) if below is None or q <= below - 5]
    if not keep:
        return np.zeros(ghosts["textured"].shape), None
    d = ghosts["diff"][keep]
    tex = ghosts["textured"]
    med = np.array([np.median(di[tex]) if tex.any() else 1.0 for di in d])
    g = np.where(tex[None], med[:, None, None] - d, 0.0)
    best = g.max(axis=0)
    qi = int(np.argmax([np.percentile(gi, 99) for gi in g]))
    return np.clip(best, 0, 1), int(qs[keep[qi]])


# ----------------------------------------------------------------------------------------- image features
FEATURES = (
    "dq_largest_region_share",
    "dq_p99_tamper_logodds",
    "grid_strength_p99_over_median",
    "grid_largest_region_share",
    "ghost_largest_region_share",
)


def _largest_share(mask: np.ndarray) -> float:
    from scipy import ndimage

    if not mask.any():
        return 0.0
    labels, n = ndimage.label(mask)
    return float(np.bincount(labels.ravel())[1:].max() / mask.size)


def analyse(jc: JpegCoefficients, rgb: np.ndarray, quality_estimate: int | None) -> tuple[np.ndarray, dict]:
    """All three analyses, the image-level features (in :data:`FEATURES` order) and the maps."""
    dq = aligned_dq(jc)
    p_map = tamper_probability_map(dq.block_llr)
    if dq.used:
        pooled = np.log(np.maximum(p_map, 1e-12) / np.maximum(1 - p_map, 1e-12))  # logit(P tamper)
        dq_region = _largest_share(p_map > 0.5)
        dq_p99 = float(np.clip(np.percentile(pooled, 99), -20, 20))
    else:
        dq_region, dq_p99 = 0.0, 0.0
    luma = decoded_luma(jc)
    gi = grid_inconsistency(luma)
    s = gi["strength"]
    med = float(np.median(s)) + 1e-3
    grid_ratio = float(np.percentile(s, 99) / med)
    grid_region = _largest_share(s > max(3 * med, 0.05))
    ghosts = jpeg_ghosts(rgb)
    gmap, gq = ghost_map(ghosts, below=quality_estimate)
    ghost_region = _largest_share(gmap > 0.35)
    # how many frequencies show DQ describes the host's history, not a splice: reported, not scored
    feats = np.array([dq_region, dq_p99, min(grid_ratio, 50.0), grid_region, ghost_region], dtype=np.float64)
    return feats, {"dq": dq, "p_map": p_map if dq.used else None, "grid": gi, "ghost_map": gmap, "ghost_quality": gq,
                   "ghosts": ghosts, "off_grid": off_grid_region(jc.off_grid) if jc.off_grid is not None else None}


def pixel_vector(feats: np.ndarray, maps: dict) -> np.ndarray:
    """The pixel-path model's input: the five :data:`FEATURES` and the off-lattice largest-region and marked shares."""
    og = maps["off_grid"]
    return np.concatenate([feats, [og["largest_region_share"], float(og["marked"].mean())]])


OFF_GRID_MARK = 0.3  # pooled off-lattice share above which a block is marked (decoded content: ≈ 0.03)


def off_grid_region(share: np.ndarray) -> dict:
    """The off-lattice map pooled over 3×3 blocks (NaN-aware), its marked blocks and their largest region."""
    from scipy import ndimage

    v = np.nan_to_num(share, nan=0.0)
    w = (~np.isnan(share)).astype(np.float64)
    num = ndimage.uniform_filter(v * w, size=3, mode="nearest")
    den = ndimage.uniform_filter(w, size=3, mode="nearest")
    pooled = np.where(den > 0.2, num / np.maximum(den, 1e-9), 0.0)
    marked = pooled > OFF_GRID_MARK
    return {"share": share, "pooled": pooled, "marked": marked, "largest_region_share": _largest_share(marked),
            "measured_blocks": int(w.sum())}


def heat(values: np.ndarray, vmax: float = 1.0) -> np.ndarray:
    """A 2-D array in [0, vmax] as an RGB uint8 heat image (black → red → yellow → white)."""
    t = np.clip(np.asarray(values, dtype=np.float32) / max(vmax, 1e-6), 0, 1)
    return (np.stack([np.clip(3 * t, 0, 1), np.clip(3 * t - 1, 0, 1), np.clip(3 * t - 2, 0, 1)], axis=-1)
            * 255).astype(np.uint8)
