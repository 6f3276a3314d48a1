"""Copy-move forgery detection: candidate transforms from keypoints, dense Zernike matches and block matching, each
verified and localised by a dense difference map.

Published, training-free methods, combined:

* **Keypoints** (Amerini et al., "A SIFT-based forensic method for copy-move attack detection and transformation
  recovery", IEEE TIFS 6(3), 2011): SIFT descriptors (RootSIFT) matched against the same image with the generalised
  2-nearest-neighbour test (g2NN). Small images are upscaled first and the contrast threshold is nearly off, so that
  a 192-300 px portrait still yields keypoints. Matches give candidate transforms two ways: displacement voting (a
  plain copy moves every match by the same vector) and sequential RANSAC of a similarity transform (rotated or
  scaled copies).
* **Dense matches** (Cozzolino, Poggi & Verdoliva, "Efficient dense-field copy-move forgery detection", IEEE TIFS
  10(11), 2015): rotation-invariant Zernike-moment magnitudes of a disc around every pixel, nearest neighbour at
  least ``DENSE_MIN_OFFSET`` away (sorted projections instead of the paper's PatchMatch), kept where distinctive;
  they feed the same RANSAC, for rotated copies of regions without keypoints.
* **Blocks** (Fridrich, Soukal & Lukas, "Detection of copy-move forgery in digital images", DFRWS 2003): near-
  identical 7x7 blocks vote for their shift; finds plain copies of flat skin or sky that hold only noise.
* **Refinement**: each verified similarity is refined to sub-pixel accuracy by ECC maximisation (Evangelidis &
  Psarakis, "Parametric image alignment using enhanced correlation coefficient maximization", IEEE TPAMI 2008).
* **Verification and localisation** (after Pan & Lyu, "Region duplication detection using image feature matching",
  IEEE TIFS 5(4), 2010): the image is warped by each candidate; a pixel agrees where the local squared difference
  to the warped copy is well below the difference with the copy moved 2 px (a dense ratio test: smooth shading
  agrees with any shift of itself, a copy at one place). Connected, thick, large enough regions that agree are the
  target; mapped back they are the source. Regions that also agree under the transform applied twice (periodic
  patterns, resampled JPEG grids) are dropped.

The raw score is ``log10`` of the share of the image in the largest verified region of any candidate (floor 1e-5).
Cost is bounded: the analysis runs on the image scaled to at most ``KEYPOINT_MAX_SIDE`` pixels on its long side,
SIFT on at most ``5000`` keypoints, the dense matches at most ``DENSE_MAX_SIDE``. Plain functions over NumPy
arrays; deterministic.

Example
-------
>>> import numpy as np, skimage.data
>>> from forensics.api import make_copy_move
>>> forged, truth, _ = make_copy_move(skimage.data.astronaut(), np.random.default_rng(1))
>>> r = detect_copy_move(forged)
>>> bool(r.mask.any())
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

KEYPOINT_MAX_SIDE = 1024  # analysis resolution: long side at most this (larger images are reduced)
SIFT_MIN_SIDE = 512  # SIFT runs on the image upscaled so its short side is at least this ...
SIFT_MAX_UPSCALE = 3.0  # ... by at most this factor
SIFT_LOW_CONTRAST_PX = 600_000  # ... on SIFT images up to this many pixels (larger: 0.01, half the cost)
SIFT_CONTRAST = 0.0005  # OpenCV's default is 0.04; nearly none: small portraits need every keypoint
DENSE_MAX_SIDE = 384
G2NN_RATIO = 0.65
KNN = 10
MIN_KEYPOINT_DISTANCE = 12  # px (analysis resolution): matches closer than this are the same structure
MIN_OFFSET = 16  # px (analysis resolution): smallest copy shift searched / accepted (below: resampling grids)
MIN_INLIERS = 4
RANSAC_THRESHOLD = 3.0  # px (analysis resolution)
MAX_RANSAC = 5  # similarity transforms sought one after another
MAX_VOTES = 6  # displacement-vote candidates
BLOCK = 7  # block matching: block side (px)
BLOCK_MIN_STD = 1.5  # blocks flatter than this (grey levels) are not matched
BLOCK_CORR = 0.9
SSD_SIGMA = 2.0  # Gaussian window (px) of the local squared difference
SSD_STEP = 2.0  # px: the transform moved this far either way must match clearly worse ...
SSD_RATIO = 0.3  # ... the difference at the transform must be under this share of the one 2 px off
SSD_LOOSE = 0.6  # hysteresis: pixels connected to a verified region join it below this ratio
SSD_FLOOR = 0.25  # grey levels^2 added to both (flat, clipped areas match anything)
SSD_MAX = 64.0  # grey levels^2: a copy differs from its source by less than this (8 levels rms)
PERIODIC_SHARE = 0.3  # share of a region agreeing under the transform applied twice: a periodic pattern
MIN_AREA_SHARE = 0.0015  # a verified target region must cover at least this share of the image
MIN_AREA_PX = 48
MIN_REGION_STD = 2.0  # px: a verified region must be this thick (std along its minor axis; ~9 px wide)
MAX_TRANSFORMS = 6
REPEAT_GROUP = 4  # this many verified transforms over overlapping regions: a repeating pattern, not a copy
ZERNIKE_RADIUS = 7
DENSE_RATIO = 0.2
DENSE_MIN_INLIERS = 30  # RANSAC inliers needed among the dense Zernike matches
AXIS_TOLERANCE_DEG = 5.0  # an anisotropic copy's scaling axes lie this close to the image axes (editor transforms)
RESAMPLED_SIGMA = 1.0  # px: a rotated or scaled copy is compared with its source on the image low-passed by this much
DENSE_MIN_OFFSET = 16  # px at dense resolution (Cozzolino et al. use a minimum offset to skip trivial self-matches)


@dataclass
class Transform:
    """One accepted copy: an affine map (2x3, analysis pixels) from source to target, its RANSAC / vote inliers (none
    for a block candidate) and the share of the image its verified target region covers."""

    affine: np.ndarray
    src: np.ndarray  # N x 2 (x, y) inlier points, analysis resolution
    dst: np.ndarray
    method: str = "keypoints"
    support: float = 0.0  # share of the image in the verified target region
    ratio: float = 1.0  # mean difference ratio over it (0 = identical copy; see agreement)

    def describe(self, scale: float) -> dict[str, Any]:
        A = self.affine[:, :2]
        s = float(np.sqrt(abs(np.linalg.det(A))))
        angle = float(np.degrees(np.arctan2(A[1, 0], A[0, 0])))
        t = self.affine[:, 2] / scale
        return {"method": self.method, "inliers": int(len(self.src)), "scale": round(s, 3),
                "rotation_deg": round(angle, 1), "translation_px": [round(float(t[0]), 1), round(float(t[1]), 1)],
                "target_share": round(self.support, 5), "difference_ratio": round(self.ratio, 3)}


@dataclass
class CopyMoveResult:
    mask: np.ndarray  # bool, analysis resolution
    scale: float  # analysis / original
    transforms: list[Transform] = field(default_factory=list)
    matches: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # all g2NN matches (x1, y1, x2, y2)
    dense_mask: np.ndarray | None = None
    keypoint_mask: np.ndarray | None = None
    keypoints: int = 0
    dense_pairs: int = 0
    candidates: int = 0
    best_support: float = 0.0  # share of the image in the largest agreeing region of any candidate

    @property
    def share(self) -> float:
        """Share of the image marked as copied (source + target)."""
        return float(self.mask.mean()) if self.mask.size else 0.0

    @property
    def score(self) -> float:
        """The raw detection score: ``log10`` of the largest verified region's share of the image (floor 1e-5)."""
        return float(np.log10(max(self.best_support, self.share / 2, 1e-5)))

    def mask_at(self, shape: tuple[int, int]) -> np.ndarray:
        """The mask resized (nearest) to ``shape`` = (height, width) of the original image."""
        import cv2

        if self.mask.shape == tuple(shape):
            return self.mask
        return cv2.resize(self.mask.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0


# ----------------------------------------------------------------------------------------------- helpers
def to_gray(rgb: np.ndarray) -> np.ndarray:
    """Luma (BT.601) as float32 in [0, 255] from an HxW or HxWx3/4 uint8 array."""
    a = np.asarray(rgb)
    if a.ndim == 2:
        return a.astype(np.float32)
    a = a[..., :3].astype(np.float32)
    return a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114


def resize_max(gray: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    import cv2

    h, w = gray.shape
    s = min(1.0, max_side / max(h, w))
    if s >= 1.0:
        return gray, 1.0
    out = cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return out, out.shape[1] / w


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_fill_holes(mask)


# ----------------------------------------------------------------------------------------------- keypoints
def sift_matches(gray8: np.ndarray, max_features: int = 5000) -> tuple[np.ndarray, np.ndarray, int]:
    """g2NN self-matches of SIFT keypoints: ``(P, Q, n_keypoints)`` with ``P``, ``Q`` = N x 2 (x, y) in ``gray8``'s
    pixels. Small images are upscaled (cubic) for the detector so they yield enough keypoints."""
    import cv2

    cv2.setRNGSeed(0)
    h, w = gray8.shape
    u = float(np.clip(SIFT_MIN_SIDE / min(h, w), 1.0, SIFT_MAX_UPSCALE))
    img = gray8 if u == 1.0 else cv2.resize(gray8, (round(w * u), round(h * u)), interpolation=cv2.INTER_CUBIC)
    contrast = SIFT_CONTRAST if img.size <= SIFT_LOW_CONTRAST_PX else 0.01  # large images have keypoints enough
    sift = cv2.SIFT_create(nfeatures=max_features, contrastThreshold=contrast)
    kps, desc = sift.detectAndCompute(img, None)
    n = len(kps)
    if desc is None or n < 3:
        return np.zeros((0, 2)), np.zeros((0, 2)), n
    pts = np.array([k.pt for k in kps], dtype=np.float64) * (np.array([w, h]) / np.array(img.shape[::-1]))
    desc = desc.astype(np.float32)
    desc = np.sqrt(desc / (np.abs(desc).sum(1, keepdims=True) + 1e-7))  # RootSIFT (Arandjelovic & Zisserman 2012)
    k = min(KNN, n - 1)
    import torch  # exact k-nearest neighbours: a blocked matrix product and top-k (unit vectors: d^2 = 2 - 2 cos)

    D = torch.from_numpy(desc)
    d2 = np.empty((n, k), np.float32)
    jj = np.empty((n, k), np.int64)
    for lo in range(0, n, 2048):
        sim = D[lo:lo + 2048] @ D.T
        r = torch.arange(sim.shape[0])
        sim[r, r + lo] = -2.0  # not the point itself
        v, i = torch.topk(sim, k, dim=1, sorted=True)
        jj[lo:lo + len(v)] = i.numpy()
        d2[lo:lo + len(v)] = np.maximum(2 - 2 * v.numpy(), 0)
    d = np.sqrt(d2)
    # g2NN: accept the m-th neighbour while every ratio d_i / d_(i+1) up to it is below the threshold
    ratio = np.where(d[:, 1:] > 0, d[:, :-1] / np.maximum(d[:, 1:], 1e-12), 0.0)
    ok = np.cumprod(ratio <= G2NN_RATIO, axis=1).astype(bool)
    ii, mm = np.nonzero(ok)
    jm = jj[ii, mm]
    far = np.hypot(*(pts[ii] - pts[jm]).T) >= MIN_KEYPOINT_DISTANCE
    ii, jm = ii[far], jm[far]
    if not len(ii):
        return np.zeros((0, 2)), np.zeros((0, 2)), n
    ij = np.unique(np.stack([np.minimum(ii, jm), np.maximum(ii, jm)], 1), axis=0)
    return pts[ij[:, 0]], pts[ij[:, 1]], n


def _plausible(A: np.ndarray) -> bool:
    L = A[:, :2]
    det = np.linalg.det(L)
    if not 0.4 ** 2 <= abs(det) <= 2.5 ** 2 or det < 0:
        return False
    sv = np.linalg.svd(L, compute_uv=False)
    return bool(sv[0] / max(sv[1], 1e-9) <= 1.5)  # strongly anisotropic: a chance alignment, not a copy


def _translation(t: np.ndarray) -> np.ndarray:
    return np.array([[1.0, 0.0, t[0]], [0.0, 1.0, t[1]]])


def vote_translations(P: np.ndarray, Q: np.ndarray, max_out: int = MAX_VOTES) -> list[Transform]:
    """Displacement voting: matches of a plain copy all move by the same vector (greedy, most votes first)."""
    if len(P) < 2:
        return []
    from scipy.spatial import cKDTree

    d = Q - P
    flip = (d[:, 0] < 0) | ((d[:, 0] == 0) & (d[:, 1] < 0))  # one orientation per match
    src, dst = np.where(flip[:, None], Q, P), np.where(flip[:, None], P, Q)
    d = dst - src
    tree = cKDTree(d)
    free = np.ones(len(d), bool)
    out = []
    nb = tree.query_ball_point(d, r=1.5)
    while len(out) < max_out:
        counts = np.array([free[i] * free[nb[i]].sum() for i in range(len(d))])
        i = int(np.argmax(counts))
        if counts[i] < 2:
            break
        sel = np.array(nb[i])[free[nb[i]]]
        free[sel] = False
        out.append(Transform(_translation(d[sel].mean(0)), src[sel], dst[sel], method="keypoints (vote)"))
    return out


def ransac_transforms(P: np.ndarray, Q: np.ndarray, max_out: int = MAX_RANSAC,
                      min_inliers: int = MIN_INLIERS) -> list[Transform]:
    """Sequential RANSAC (MAGSAC++) of similarity transforms over the matches taken in both orientations."""
    import cv2

    n = len(P)
    if n < min_inliers:
        return []
    src, dst = np.vstack([P, Q]).astype(np.float32), np.vstack([Q, P]).astype(np.float32)
    free = np.ones(n, bool)
    out = []
    for _ in range(max_out):
        idx = np.flatnonzero(np.concatenate([free, free]))
        if len(idx) < 2 * min_inliers:
            break
        cv2.setRNGSeed(0)
        A, inl = cv2.estimateAffinePartial2D(src[idx], dst[idx], method=cv2.RANSAC,
                                             ransacReprojThreshold=RANSAC_THRESHOLD, maxIters=2000, confidence=0.995,
                                             refineIters=10)
        if A is None or inl is None:
            break
        inl = inl.ravel().astype(bool)
        if inl.sum() < min_inliers:
            break
        used = idx[inl] % n
        free[used] = False
        s_in, d_in = src[idx[inl]], dst[idx[inl]]
        if not _plausible(A) or np.ptp(s_in, axis=0).max() < 6:
            continue
        out.append(Transform(_affine_refit(s_in, d_in, A.astype(np.float64)), s_in.astype(np.float64),
                             d_in.astype(np.float64)))
    return out


def _editor_transform(L: np.ndarray, tol_deg: float = AXIS_TOLERANCE_DEG) -> bool:
    """Whether the linear part ``L`` is what an image editor's free transform makes: a scaling along the image axes
    before or after a rotation (``R·diag(sx, sy)`` or ``diag(sx, sy)·R``), i.e. its singular directions on one side lie
    along the image axes (within ``tol_deg``). A general affine map with shear is how two similar but distinct
    objects seen from different viewpoints relate, not how a pasted copy does; it is not accepted."""
    U, sv, Vt = np.linalg.svd(L)
    if sv[0] / max(sv[1], 1e-9) < 1.02:  # (nearly) isotropic: a similarity, no axes to check
        return True

    def off_axis(M: np.ndarray) -> float:  # angle of the first singular direction from the nearest image axis
        a = np.degrees(np.arctan2(M[1, 0], M[0, 0])) % 90.0
        return min(a, 90.0 - a)

    return min(off_axis(Vt.T), off_axis(U)) <= tol_deg


def _affine_refit(src: np.ndarray, dst: np.ndarray, A: np.ndarray) -> np.ndarray:
    """A full affine map fitted to a similarity's inlier matches (least median of squares), kept where it fits them
    better and stays plausible: a copy scaled differently along x and y (MICC-F220's 1.4 x 1.2 attacks) is no
    similarity, and the pixel verification needs the copy's map to a fraction of a pixel (Amerini et al. 2011
    recover the affine transform of each matched cluster)."""
    import cv2

    if len(src) < 6:
        return A
    B, _ = cv2.estimateAffine2D(src.astype(np.float32), dst.astype(np.float32), method=cv2.LMEDS)
    if B is None:
        return A
    B = B.astype(np.float64)
    if not _plausible(B) or not _editor_transform(B[:, :2]):
        return A

    def residual(M: np.ndarray) -> float:
        return float(np.median(np.hypot(*((src @ M[:, :2].T + M[:, 2]) - dst).T)))

    return B if residual(B) < residual(A) else A


# ----------------------------------------------------------------------------------------------- block matching
def block_shifts(gray: np.ndarray, max_out: int = MAX_VOTES, min_offset: float = MIN_OFFSET,
                 max_rows: int = 90_000) -> list[tuple[np.ndarray, int]]:
    """Shift vectors voted for by near-identical blocks (Fridrich, Soukal & Lukas, "Detection of copy-move forgery in
    digital images", DFRWS 2003): every ``BLOCK`` x ``BLOCK`` block (mean removed, on a grid with step 1 or 2) is
    matched with its most similar block at least ``min_offset`` away (sorted-projection neighbours), matches that
    agree closely (correlation > ``BLOCK_CORR``) vote for their shift; ``[(shift (dx, dy), votes), ...]``, the most
    voted first, one of each ± pair. Works where a copy has no keypoint (flat skin, sky) as long as it holds noise or
    texture, but only for plain (translated) copies."""
    from numpy.lib.stride_tricks import sliding_window_view

    H, W = gray.shape
    b = BLOCK
    if min(H, W) < 4 * b:
        return []
    step = 1 if (H - b + 1) * (W - b + 1) <= max_rows else int(np.ceil(np.sqrt((H - b + 1) * (W - b + 1) / max_rows)))
    win = sliding_window_view(gray, (b, b))[::step, ::step]
    gy, gx = np.mgrid[0:win.shape[0], 0:win.shape[1]] * step
    X = win.reshape(-1, b * b).astype(np.float32)
    X = X - X.mean(1, keepdims=True)
    energy = np.einsum("ij,ij->i", X, X)
    keep = energy > (BLOCK_MIN_STD ** 2) * b * b  # flat blocks match anything
    if keep.sum() < 50:
        return []
    X, e = X[keep], energy[keep]
    px, py = gx.ravel()[keep].astype(np.float64), gy.ravel()[keep].astype(np.float64)
    nn, found = sorted_neighbours(X, px, py, min_offset, projections=3, window=8)
    d = X - X[nn]
    corr = 1 - np.einsum("ij,ij->i", d, d) / (e + e[nn])  # 1 = identical, 0 = unrelated (for equal energies)
    good = found & (corr > BLOCK_CORR)
    if good.sum() < 3:
        return []
    dx, dy = (px[nn] - px)[good], (py[nn] - py)[good]
    flip = (dy < 0) | ((dy == 0) & (dx < 0))
    dx, dy = np.where(flip, -dx, dx), np.where(flip, -dy, dy)
    keys, counts = np.unique(np.stack([dx, dy], 1).astype(np.int64), axis=0, return_counts=True)
    order = np.lexsort((keys[:, 1], keys[:, 0], -counts))
    out: list[tuple[np.ndarray, int]] = []
    for i in order:
        if counts[i] < 3 or len(out) >= max_out:
            break
        if any(np.abs(keys[i] - o).max() <= 2 for o, _ in out):
            continue
        out.append((keys[i].astype(np.float64), int(counts[i])))
    return out


# ----------------------------------------------------------------------------------------------- verification
def difference_map(gray: np.ndarray, A: np.ndarray, sigma: float = SSD_SIGMA) -> np.ndarray:
    """Local mean squared difference (Gaussian window) between the image and the image warped by ``A``."""
    import cv2

    H, W = gray.shape
    w = cv2.warpAffine(gray, A, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return cv2.GaussianBlur((gray - w) ** 2, (0, 0), sigma)


def defined(shape: tuple[int, int], A: np.ndarray) -> np.ndarray:
    """Where a comparison under ``A`` (source -> target) is defined: inside the warp, and source and target at
    least ``MIN_OFFSET`` apart."""
    import cv2

    H, W = shape
    inside = cv2.warpAffine(np.ones((H, W), np.uint8), A, (W, H), flags=cv2.INTER_NEAREST,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    inside = cv2.erode(inside, np.ones((5, 5), np.uint8)) > 0
    L = A[:, :2]
    if np.allclose(L, np.eye(2)):  # a translation: the same offset everywhere
        return inside if np.hypot(*A[:, 2]) >= MIN_OFFSET else np.zeros((H, W), bool)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    Ainv = cv2.invertAffineTransform(A)
    sx = Ainv[0, 0] * xx + Ainv[0, 1] * yy + Ainv[0, 2] - xx
    sy = Ainv[1, 0] * xx + Ainv[1, 1] * yy + Ainv[1, 2] - yy
    return inside & (sx * sx + sy * sy >= MIN_OFFSET ** 2)


def _shifted(A: np.ndarray, dx: float, dy: float) -> np.ndarray:
    B = A.copy()
    B[:, 2] += (dx, dy)
    return B


def _compose(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The affine map ``x -> A(B(x))``."""
    return np.hstack([A[:, :2] @ B[:, :2], (A[:, :2] @ B[:, 2] + A[:, 2])[:, None]])


def agreement(gray: np.ndarray, A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels where the image agrees with its copy under ``A`` distinctly: the local difference at ``A`` is under
    ``SSD_RATIO`` times the smallest difference with ``A`` moved ``SSD_STEP`` px either way (a dense analogue of the
    2NN ratio test: smooth shading or coarse texture agrees with any small shift of itself, a copy at one place) and
    under ``SSD_MAX``. Returns (agree, ratio) with the ratio infinite where the pixel cannot agree."""
    d0, ok = difference_map(gray, A), defined(gray.shape, A)
    near = np.min([difference_map(gray, _shifted(A, dx, dy))
                   for dx, dy in ((SSD_STEP, 0), (-SSD_STEP, 0), (0, SSD_STEP), (0, -SSD_STEP))], axis=0)
    ratio = (d0 + SSD_FLOOR) / (near + SSD_FLOOR)
    return ok & (ratio < SSD_RATIO) & (d0 < SSD_MAX), np.where(ok & (d0 < SSD_MAX), ratio, np.inf)


def _minor_std(lab: np.ndarray, n: int) -> np.ndarray:
    """Per component (labels 1..n-1): the standard deviation of its pixel coordinates along its minor axis."""
    yy, xx = np.indices(lab.shape)
    lab = lab.ravel()

    def acc(w):
        return np.bincount(lab, weights=w.ravel().astype(np.float64), minlength=n)[1:]

    c = np.maximum(acc(np.ones(lab.shape)), 1)
    mx, my = acc(xx) / c, acc(yy) / c
    sxx, syy, sxy = acc(xx * xx) / c - mx * mx, acc(yy * yy) / c - my * my, acc(xx * yy) / c - mx * my
    lam = (sxx + syy) / 2 - np.sqrt(((sxx - syy) / 2) ** 2 + sxy ** 2)
    return np.sqrt(np.maximum(lam, 0))


def refine(gray: np.ndarray, A: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Sub-pixel refinement of a verified transform by enhanced-correlation maximisation over its target region
    (Evangelidis & Psarakis, IEEE TPAMI 2008; OpenCV ``findTransformECC``), similarity-constrained by the start; the
    start is kept when ECC fails or moves implausibly far."""
    import cv2

    W0 = cv2.invertAffineTransform(A).astype(np.float32)  # target pixels -> source pixels
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 1e-5)
    m = target.astype(np.uint8)
    try:
        if hasattr(cv2, "findTransformECCWithMask"):  # OpenCV 5: a mask for the template (target) frame
            _, W = cv2.findTransformECCWithMask(gray, gray, m, np.ones_like(m), W0.copy(), cv2.MOTION_AFFINE, crit, 3)
        else:  # OpenCV 4: findTransformECC's mask is the template's
            _, W = cv2.findTransformECC(gray, gray, W0.copy(), cv2.MOTION_AFFINE, crit, m, 3)
    except cv2.error:
        return A
    B = cv2.invertAffineTransform(W).astype(np.float64)
    if np.abs(B[:, 2] - A[:, 2]).max() > 3 or np.abs(B[:, :2] - A[:, :2]).max() > 0.05 or not _plausible(B):
        return A
    return B


def verify(gray: np.ndarray, t: Transform, min_px: int) -> tuple[np.ndarray, float, float]:
    """The target region of ``t``: connected pixels that agree with the warped copy (:func:`agreement`), cleaned;
    with the largest agreeing region's share of the image and the mean difference ratio over the kept target.
    Thin strips (parallel edges, stripes) are dropped. A region that also agrees under the transform applied twice is a periodic pattern (tiles, bricks, fabric, a
    resampled JPEG grid), not a copy, and is dropped, as are regions under ``min_px``."""
    import cv2

    agree, ratio = agreement(gray, t.affine)
    agree = cv2.morphologyEx(agree.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(agree, connectivity=8)
    if n <= 1:
        return np.zeros(gray.shape, bool), 0.0, 1.0
    areas = stats[1:, cv2.CC_STAT_AREA].astype(float)
    areas = np.where(_minor_std(lab, n) < MIN_REGION_STD, 0, areas)  # thin strips: parallel edges, stripes
    if areas.max() >= min_px / 2:
        rep, _ = agreement(gray, _compose(t.affine, t.affine))
        rep_share = np.bincount(lab.ravel(), weights=rep.ravel(), minlength=n)[1:] / np.maximum(areas, 1)
        areas = np.where(rep_share > PERIODIC_SHARE, 0, areas)
    keep = np.zeros(n, bool)
    keep[1:] = areas >= min_px
    best = float(areas.max()) / gray.size
    target = keep[lab]
    if not target.any():
        return target, best, 1.0
    # hysteresis: grow the verified cores into connected pixels that agree more loosely (interpolated, recompressed
    # or feathered parts of the copy)
    loose = cv2.morphologyEx((ratio < SSD_LOOSE).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n2, lab2 = cv2.connectedComponents(loose | target.astype(np.uint8), connectivity=8)
    grown = np.zeros(n2, bool)
    grown[np.unique(lab2[target])] = True
    grown[0] = False
    target = grown[lab2]
    # a copied region is one piece: its flat parts (no texture, ratio ~1) between the verified parts are filled in
    # up to the convex hull of the verified pixels, where the image still equals its warped copy (difference small)
    hull = np.zeros(gray.shape, np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.argwhere(target)[:, ::-1].astype(np.int32)), 1)
    target |= (hull > 0) & np.isfinite(ratio)
    target = cv2.morphologyEx(target.astype(np.uint8), cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))) > 0
    target = _fill_holes(target)
    fin = target & np.isfinite(ratio)  # filled-in flat parts have no ratio
    return target, best, float(ratio[fin].mean()) if fin.any() else 1.0


# ----------------------------------------------------------------------------------------------- dense field
_ZERNIKE_ORDERS = [(n, m) for n in range(0, 6) for m in range(0, n + 1) if (n - m) % 2 == 0]


def _zernike_kernels(radius: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from math import factorial

    size = 2 * radius + 1
    yy, xx = (np.mgrid[0:size, 0:size] - radius) / (radius + 0.5)
    rho, theta = np.hypot(xx, yy), np.arctan2(yy, xx)
    inside = rho <= 1.0
    out = []
    for n, m in _ZERNIKE_ORDERS:
        R = np.zeros_like(rho)
        for s in range((n - m) // 2 + 1):
            c = (-1) ** s * factorial(n - s) / (factorial(s) * factorial((n + m) // 2 - s) * factorial((n - m) // 2 - s))
            R += c * rho ** (n - 2 * s)
        norm = (n + 1) / np.pi / inside.sum()
        out.append(((R * np.cos(m * theta) * inside * norm).astype(np.float32),
                    (-R * np.sin(m * theta) * inside * norm).astype(np.float32)))
    return out


def zernike_features(gray: np.ndarray, radius: int = ZERNIKE_RADIUS) -> np.ndarray:
    """Per-pixel magnitudes of the Zernike moments (order <= 5) of a disc of ``radius``: H x W x 12, rotation-invariant."""
    import cv2

    g = gray - cv2.blur(gray, (2 * radius + 1, 2 * radius + 1))  # the mean (order 0) carries no shape
    feats = [cv2.blur(gray, (2 * radius + 1, 2 * radius + 1)) / 16.0]
    for kr, ki in _zernike_kernels(radius)[1:]:
        re = cv2.filter2D(g, cv2.CV_32F, kr, borderType=cv2.BORDER_REFLECT)
        im = cv2.filter2D(g, cv2.CV_32F, ki, borderType=cv2.BORDER_REFLECT)
        feats.append(np.sqrt(re * re + im * im))
    return np.stack(feats, axis=-1)


def sorted_neighbours(X: np.ndarray, px: np.ndarray, py: np.ndarray, min_offset: float, projections: int = 3,
                      window: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Approximate nearest neighbour of every feature row at least ``min_offset`` pixels away.

    Lexicographic-sort matching (Fridrich et al. 2003) generalised to several sort keys: the rows are sorted along
    each of the first ``projections`` principal axes and every row is compared with the ``window`` rows after it in
    each order (both ends updated). Exact k-d trees degrade badly in 12 dimensions; this is O(n log n), deterministic.
    Returns (index of the best neighbour, whether one was found).
    """
    n = len(X)
    Xc = (X - X.mean(0)).astype(np.float32)
    _, _, vt = np.linalg.svd(Xc[:: max(1, n // 5000)], full_matrices=False)
    best_d = np.full(n, np.inf, dtype=np.float32)
    best_j = np.zeros(n, dtype=np.int64)
    for axis in vt[:projections]:
        order = np.argsort(Xc @ axis.astype(np.float32), kind="stable")
        Xs, xs, ys = Xc[order], px[order], py[order]  # contiguous slices below, no gathers
        for o in range(1, min(window, n - 1) + 1):
            diff = Xs[:-o] - Xs[o:]
            d = np.einsum("ij,ij->i", diff, diff)
            d[np.hypot(xs[:-o] - xs[o:], ys[:-o] - ys[o:]) < min_offset] = np.inf
            for u, v in ((order[:-o], order[o:]), (order[o:], order[:-o])):  # u holds each row at most once
                better = d < best_d[u]
                best_d[u[better]] = d[better]
                best_j[u[better]] = v[better]
    return best_j, np.isfinite(best_d)


def zernike_matches(gray: np.ndarray, max_side: int = DENSE_MAX_SIDE,
                    max_pairs: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Dense rotation-invariant matches (Cozzolino, Poggi & Verdoliva 2015): every pixel's Zernike-moment magnitudes
    matched with the most similar pixel at least ``DENSE_MIN_OFFSET`` away, kept where the match is much closer than
    the pixel's own neighbourhood (``DENSE_RATIO``); ``(P, Q)`` in ``gray``'s pixels, at most ``max_pairs`` (an even,
    deterministic subsample). They seed RANSAC for rotated or scaled copies of regions without keypoints."""
    import cv2

    g, s = resize_max(gray, max_side)
    H, W = g.shape
    r = ZERNIKE_RADIUS
    if min(H, W) < 6 * r:
        return np.zeros((0, 2)), np.zeros((0, 2))
    f = zernike_features(g)
    mean = cv2.blur(g, (2 * r + 1,) * 2)
    std = np.sqrt(np.maximum(cv2.blur(g * g, (2 * r + 1,) * 2) - mean * mean, 0))
    valid = std > 3.0
    valid[:r], valid[-r:], valid[:, :r], valid[:, -r:] = False, False, False, False
    if valid.sum() < 50:
        return np.zeros((0, 2)), np.zeros((0, 2))
    F = (f / (f[valid].std(axis=0) + 1e-6)).astype(np.float32)
    ys, xs = np.nonzero(valid)
    X = F[ys, xs]
    nn, ok = sorted_neighbours(X.astype(np.float64), xs.astype(np.float64), ys.astype(np.float64), DENSE_MIN_OFFSET,
                               projections=3, window=8)
    dd = X - X[nn]
    dist = np.einsum("ij,ij->i", dd, dd)
    acc = np.zeros((H, W), dtype=np.float32)
    for dy, dx in ((0, 3), (3, 0), (0, -3), (-3, 0)):
        sh = np.roll(F, (dy, dx), axis=(0, 1))
        acc += np.einsum("hwc,hwc->hw", F - sh, F - sh)
    good = np.flatnonzero(ok & (dist < DENSE_RATIO * acc[ys, xs] / 4))
    if len(good) > max_pairs:
        good = good[np.linspace(0, len(good) - 1, max_pairs).astype(int)]
    P = np.stack([xs[good], ys[good]], 1) / s
    Q = np.stack([xs[nn[good]], ys[nn[good]]], 1) / s
    return P.astype(np.float64), Q.astype(np.float64)


# ----------------------------------------------------------------------------------------------- all together
def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.abs(a[:, :2] - b[:, :2]).max() < 0.03 and np.abs(a[:, 2] - b[:, 2]).max() < 2.0)


def candidate_transforms(gray: np.ndarray, P: np.ndarray, Q: np.ndarray, dense: bool = True,
                         blocks: bool = True) -> list[Transform]:
    """Keypoint votes, keypoint RANSAC, dense-match RANSAC and block votes; duplicates (and inverses) removed."""
    import cv2

    cands = vote_translations(P, Q) + ransac_transforms(P, Q)
    if dense:
        zp, zq = zernike_matches(gray)
        cands += [Transform(t.affine, t.src, t.dst, method="dense Zernike")
                  for t in ransac_transforms(zp, zq, max_out=MAX_RANSAC, min_inliers=DENSE_MIN_INLIERS)]
    if blocks:
        cands += [Transform(_translation(s), np.zeros((0, 2)), np.zeros((0, 2)), method="blocks")
                  for s, _ in block_shifts(gray)]
    out: list[Transform] = []
    for c in cands:
        inv = np.vstack([cv2.invertAffineTransform(c.affine)])
        if not any(_same(c.affine, o.affine) or _same(inv, o.affine) for o in out):
            out.append(c)
    return out


def _repeating(found: list[tuple[Transform, np.ndarray, float]]) -> list[Transform]:
    """Transforms in groups of ``REPEAT_GROUP`` or more whose regions overlap one another: a pattern that repeats
    (tiles, a brick wall, a fence) agrees with itself under many shifts, one copy under one (a copy pasted twice gives
    three: source to each target and one target to the other). A plain (whole-pixel) shift and a resampled map are
    never grouped: they are verified at different detail (full vs low-passed), so a plain copy overlapping low-passed
    matches of similar objects nearby is not a repeat of them (COVERAGE 28t was lost that way in 2.1.0)."""
    n = len(found)
    if n < REPEAT_GROUP:
        return []
    parent = list(range(n))
    resampled = [_resampling(t.affine) for t, _, _ in found]

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if resampled[i] != resampled[j]:
                continue
            a, b = found[i][1], found[j][1]
            if (a & b).sum() > 0.3 * min(a.sum(), b.sum()):
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return [found[i][0] for g in groups.values() if len(g) >= REPEAT_GROUP for i in g]


def _resampling(A: np.ndarray) -> bool:
    """Whether a copy under ``A`` was resampled (rotated or scaled), not only moved by whole pixels."""
    return not np.allclose(A[:, :2], np.eye(2), atol=1e-3)


def detect_copy_move(rgb: np.ndarray, keypoint_max_side: int = KEYPOINT_MAX_SIDE, dense: bool = True,
                     blocks: bool = True, resampled_sigma: float = RESAMPLED_SIGMA) -> CopyMoveResult:
    """Find copied regions of an RGB (or grey) uint8 image; the mask is at analysis resolution (``result.scale``).
    ``dense`` / ``blocks``: also seek candidates among dense Zernike matches / by block matching.

    A rotated or scaled copy was interpolated when it was made, so its finest detail is not its source's: such a
    transform is verified on the image low-passed by ``resampled_sigma`` px (Gaussian; 0: not at all), where the copy
    again equals its source closely and the 2 px-off comparison still tells it from a chance alignment; a plain
    (translated) copy is compared at full detail."""
    import cv2

    a = np.asarray(rgb)
    h0, w0 = a.shape[:2]
    if max(h0, w0) > keypoint_max_side:  # reduce first (uint8, area averaging): bounded memory on large images
        f = keypoint_max_side / max(h0, w0)
        a = cv2.resize(np.ascontiguousarray(a), (max(1, round(w0 * f)), max(1, round(h0 * f))),
                       interpolation=cv2.INTER_AREA)
    gray = to_gray(a)
    scale = gray.shape[1] / w0
    H, W = gray.shape
    gray8 = np.clip(np.round(gray), 0, 255).astype(np.uint8)
    P, Q, nkp = sift_matches(gray8)
    cands = candidate_transforms(gray, P, Q, dense=dense, blocks=blocks)
    min_px = max(MIN_AREA_PX, int(MIN_AREA_SHARE * H * W))
    mask = np.zeros((H, W), bool)
    kmask = np.zeros((H, W), bool)
    dmask = np.zeros((H, W), bool)
    found: list[tuple[Transform, np.ndarray, float]] = []  # verified: transform, target | source, largest share
    rejected_best = 0.0
    low = cv2.GaussianBlur(gray, (0, 0), resampled_sigma) if resampled_sigma > 0 else gray
    for t in cands:
        g = low if _resampling(t.affine) else gray
        target, b, ratio = verify(g, t, min_px)
        if target.any():
            B = refine(g, t.affine, target)
            if B is not t.affine:
                t2 = Transform(B, t.src, t.dst, t.method)
                target2, b2, ratio2 = verify(g, t2, min_px)
                if target2.sum() > target.sum():
                    t, target, b, ratio = t2, target2, b2, ratio2
        if not target.any():
            rejected_best = max(rejected_best, b)
            continue
        source = cv2.warpAffine(target.astype(np.uint8), cv2.invertAffineTransform(t.affine), (W, H),
                                flags=cv2.INTER_NEAREST) > 0
        t.support, t.ratio = float(target.mean()), ratio
        found.append((t, target | source, b))
    drop = {id(t) for t in _repeating(found)}
    found = [f for f in found if id(f[0]) not in drop]
    kept = [t for t, _, _ in found[:MAX_TRANSFORMS]]
    best = max([rejected_best] + [b for _, _, b in found])
    mask = np.zeros((H, W), bool)
    kmask = np.zeros((H, W), bool)
    dmask = np.zeros((H, W), bool)
    for t, m, _ in found[:MAX_TRANSFORMS]:
        mask |= m
        if t.method.startswith("keypoints"):
            kmask |= m
        else:
            dmask |= m
    matches = np.hstack([P, Q]) if len(P) else np.zeros((0, 4))
    return CopyMoveResult(mask=mask, scale=scale, transforms=kept, matches=matches, dense_mask=dmask,
                          keypoint_mask=kmask, keypoints=nkp, dense_pairs=int(dmask.sum()), candidates=len(cands),
                          best_support=best)


def pixel_scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Pixel-level F1 and Matthews correlation of a predicted mask against the truth (both bool, same shape)."""
    p, t = pred.astype(bool).ravel(), truth.astype(bool).ravel()
    tp = float((p & t).sum())
    fp = float((p & ~t).sum())
    fn = float((~p & t).sum())
    tn = float((~p & ~t).sum())
    f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 1.0
    den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    mcc = (tp * tn - fp * fn) / den if den else 0.0
    return {"f1": f1, "mcc": float(mcc), "iou": tp / (tp + fp + fn) if (tp + fp + fn) else 1.0}


__all__ = ["CopyMoveResult", "Transform", "block_shifts", "candidate_transforms",
           "agreement", "defined", "difference_map", "detect_copy_move", "pixel_scores", "ransac_transforms", "sift_matches",
           "verify", "vote_translations", "zernike_features", "zernike_matches", "to_gray", "resize_max", "KEYPOINT_MAX_SIDE",
           "DENSE_MAX_SIDE"]
