"""Skin regions of a face, from the 68 iBUG 300-W landmarks, and their mean colour per frame.

Regions (subject's left/right, i.e. ``left_*`` is on the image's right):

* ``forehead`` -- the band above the eyebrows, up to half the brow-to-nose-tip distance;
* ``left_cheek``, ``right_cheek`` -- below the eye, beside the nose, above the mouth
  corner, inside the jaw line (the classic rPPG cheek patches);
* ``left_face``, ``right_face``, ``mid_face`` -- FakeCatcher's three regions (Ciftci et al.,
  TPAMI 2020, Sec. 4): each half of the face inside the jaw line and below the brows,
  eyes, brows and mouth removed, split at the nose line; and the central strip from
  between the eyebrows down the nose bridge.

Every polygon is shrunk 10 % towards its centroid so that a landmark error of a few
pixels does not pull in hair, background or the eye. Region means leave out
near-black and saturated pixels (:func:`forensics_plugins.rppg.signals.skin_pixels_mean`).

The PPG map (:func:`grid_cells`) is FakeCatcher's spatial layout in a simpler form: the
face's skin mask cut into a grid of cells, one mean colour per cell and frame.
"""

from __future__ import annotations

import numpy as np

REGIONS = ("forehead", "left_cheek", "right_cheek", "left_face", "right_face", "mid_face")
GRID = (4, 4)  # PPG-map cells (rows, columns) over the face box
MIN_CELL_SKIN = 0.35  # a cell is used when at least this share of it is skin
SHRINK = 0.9
FOREHEAD_TOP = 0.55  # forehead band top, in units of the nose-bridge-to-tip length above the brows

# iBUG 300-W indices
_JAW = list(range(0, 17))
_R_BROW, _L_BROW = list(range(17, 22)), list(range(22, 27))
_R_EYE, _L_EYE = list(range(36, 42)), list(range(42, 48))
_MOUTH = list(range(48, 60))
_POLYS = {
    "right_cheek": [1, 2, 3, 4, 48, 31, 40, 41],
    "left_cheek": [15, 14, 13, 12, 54, 35, 47, 46],
    "mid_face": [21, 22, 42, 35, 33, 31, 39],
    "right_face": [27, 21, 20, 19, 18, 17, 0, 1, 2, 3, 4, 5, 6, 7, 8, 57, 51, 33, 30, 29, 28],
    "left_face": [27, 22, 23, 24, 25, 26, 16, 15, 14, 13, 12, 11, 10, 9, 8, 57, 51, 33, 30, 29, 28],
}


def _shrink(poly: np.ndarray, factor: float = SHRINK) -> np.ndarray:
    c = poly.mean(axis=0)
    return c + factor * (poly - c)


def region_polygons(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Polygon (K, 2) of every region in :data:`REGIONS`, in the landmarks' coordinates."""
    lm = np.asarray(landmarks, dtype=np.float64)
    up = lm[27] - lm[30]  # nose tip -> nose bridge: "up" along the face, scaled to the face
    brows = lm[17:27]
    forehead = np.concatenate([brows + 0.15 * up, (brows + FOREHEAD_TOP * up)[::-1]])
    polys = {"forehead": forehead}
    for name, idx in _POLYS.items():
        polys[name] = lm[idx]
    return {k: _shrink(v) for k, v in polys.items()}


def _fill(shape: tuple[int, int], poly: np.ndarray) -> np.ndarray:
    import cv2

    m = np.zeros(shape, dtype=np.uint8)
    cv2.fillPoly(m, [np.round(poly * 4).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=2)
    return m


def _holes(shape: tuple[int, int], lm: np.ndarray) -> np.ndarray:
    """Eyes, eyebrows and mouth, grown by 6 % of the eye-corner distance: never skin for rPPG (uint8 0/1)."""
    import cv2

    m = np.zeros(shape, dtype=np.uint8)
    scale = float(np.linalg.norm(lm[36] - lm[45]))  # outer eye corners
    t = max(1, int(round(0.06 * scale)))
    for idx in (_R_EYE, _L_EYE, _MOUTH):
        pts = np.round(lm[idx] * 4).astype(np.int32)
        cv2.fillPoly(m, [pts], 1, shift=2)
        cv2.polylines(m, [pts], True, 1, thickness=2 * t, shift=2)
    for idx in (_R_BROW, _L_BROW):
        cv2.polylines(m, [np.round(lm[idx] * 4).astype(np.int32)], False, 1, thickness=3 * t, shift=2)
    return m


def region_masks(shape: tuple[int, int], landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean mask of every region on an image of ``shape`` (H, W)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    keep = _holes(shape, lm) == 0
    return {k: (_fill(shape, p) > 0) & keep for k, p in region_polygons(lm).items()}


def _outline(lm: np.ndarray) -> np.ndarray:
    up = lm[27] - lm[30]
    return _shrink(np.concatenate([lm[_JAW], (lm[17:27] + FOREHEAD_TOP * up)[::-1]]), 0.95)


def face_skin_mask(shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """Skin of the whole face: inside the jaw line and the forehead band, minus eyes, brows, mouth."""
    lm = np.asarray(landmarks, dtype=np.float64)
    return (_fill(shape, _outline(lm)) > 0) & (_holes(shape, lm) == 0)


def _grid_edges(shape: tuple[int, int], lm: np.ndarray, grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    pts = _outline(lm)
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    xs = np.clip(np.linspace(x0, x1, grid[1] + 1).round().astype(int), 0, shape[1])
    ys = np.clip(np.linspace(y0, y1, grid[0] + 1).round().astype(int), 0, shape[0])
    return ys, xs


def grid_cells(shape: tuple[int, int], landmarks: np.ndarray, grid: tuple[int, int] = GRID) -> list[np.ndarray]:
    """The face's skin mask cut into ``grid`` cells over the face box (row-major; too-small cells are empty)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    skin = face_skin_mask(shape, lm)
    ys, xs = _grid_edges(shape, lm, grid)
    cells = []
    for r in range(grid[0]):
        for c in range(grid[1]):
            m = np.zeros(shape, dtype=bool)
            ya, yb, xa, xb = ys[r], ys[r + 1], xs[c], xs[c + 1]
            m[ya:yb, xa:xb] = skin[ya:yb, xa:xb]
            area = max((yb - ya) * (xb - xa), 1)
            cells.append(m if m.sum() >= MIN_CELL_SKIN * area else np.zeros(shape, dtype=bool))
    return cells


def smooth_landmarks(seq: np.ndarray, radius: int = 2) -> np.ndarray:
    """Moving average of a ``(T, 68, 2)`` landmark sequence over ``2·radius+1`` frames.

    Landmark jitter moves the region borders from frame to frame and adds noise to the
    region means; rPPG needs the regions to follow the face, not the detector's noise.
    """
    seq = np.asarray(seq, dtype=np.float64)
    if len(seq) < 3 or radius < 1:
        return seq
    pad = np.concatenate([np.repeat(seq[:1], radius, 0), seq, np.repeat(seq[-1:], radius, 0)])
    c = np.cumsum(pad, axis=0)
    c = np.concatenate([np.zeros_like(seq[:1]), c])
    k = 2 * radius + 1
    return (c[k:] - c[:-k]) / k


def frame_means(crop: np.ndarray, landmarks: np.ndarray, with_grid: bool = True,
                low: int = 8, high: int = 250) -> tuple[np.ndarray, np.ndarray]:
    """Mean RGB of every region (``(len(REGIONS), 3)``) and of every PPG-map cell (``(cells, 3)``).

    Pixels whose brightest channel is below ``low`` or at/above ``high`` are left out
    (as in :func:`forensics_plugins.rppg.signals.skin_pixels_mean`). Regions or cells
    with fewer than 16 usable pixels give NaN. This is the per-frame cost of the
    detector, so masks are drawn once per frame and averaged with OpenCV.
    """
    import cv2

    crop = np.ascontiguousarray(crop, dtype=np.uint8)
    shape = crop.shape[:2]
    lm = np.asarray(landmarks, dtype=np.float64)
    mx = cv2.max(cv2.max(crop[..., 0], crop[..., 1]), crop[..., 2])
    ok = cv2.inRange(mx, low, high - 1)  # 0/255
    ok[_holes(shape, lm) > 0] = 0
    reg = np.full((len(REGIONS), 3), np.nan)
    polys = region_polygons(lm)
    for i, k in enumerate(REGIONS):
        x0, y0 = np.clip(np.floor(polys[k].min(axis=0)).astype(int), 0, None)
        x1, y1 = np.ceil(polys[k].max(axis=0)).astype(int) + 1
        if x1 <= x0 or y1 <= y0:
            continue
        m = cv2.bitwise_and(_fill(shape, polys[k])[y0:y1, x0:x1], ok[y0:y1, x0:x1])
        if cv2.countNonZero(m) >= 16:
            reg[i] = cv2.mean(crop[y0:y1, x0:x1], mask=m)[:3]
    if not with_grid:
        return reg, np.zeros((0, 3))
    skin = cv2.bitwise_and(_fill(shape, _outline(lm)), ok)
    ys, xs = _grid_edges(shape, lm, GRID)
    grid = np.full((GRID[0] * GRID[1], 3), np.nan)
    for r in range(GRID[0]):
        for c in range(GRID[1]):
            ya, yb, xa, xb = ys[r], ys[r + 1], xs[c], xs[c + 1]
            if yb <= ya or xb <= xa:
                continue
            m = skin[ya:yb, xa:xb]
            if cv2.countNonZero(m) >= max(16, MIN_CELL_SKIN * (yb - ya) * (xb - xa)):
                grid[r * GRID[1] + c] = cv2.mean(crop[ya:yb, xa:xb], mask=m)[:3]
    return reg, grid


def track_traces(observations, smooth_radius: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Colour traces of one face track.

    Parameters
    ----------
    observations : list of :class:`forensics.faces.FaceObservation` (``crop``, ``crop_landmarks``, ``time_s``)
    smooth_radius : landmarks are averaged over ``2·r+1`` observations (:func:`smooth_landmarks`)

    Returns
    -------
    (times (N,), regions (N, len(REGIONS), 3), cells (N, GRID cells, 3)); NaN where unavailable.
    """
    lms = smooth_landmarks(np.stack([o.crop_landmarks for o in observations]), smooth_radius)
    reg, cells = zip(*(frame_means(o.crop, lm) for o, lm in zip(observations, lms)))
    return np.array([o.time_s for o in observations], dtype=np.float64), np.stack(reg), np.stack(cells)


def overlay(crop: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The crop with the regions tinted and outlined (for the report)."""
    import cv2

    out = crop.astype(np.float32).copy()
    colours = {"forehead": (255, 200, 0), "left_cheek": (0, 200, 255), "right_cheek": (255, 0, 200),
               "left_face": (0, 255, 0), "right_face": (255, 255, 0), "mid_face": (255, 64, 64)}
    masks = region_masks(crop.shape[:2], landmarks)
    for k in ("left_face", "right_face", "mid_face", "forehead", "left_cheek", "right_cheek"):
        m = masks[k]
        out[m] = 0.6 * out[m] + 0.4 * np.array(colours[k], dtype=np.float32)
    out = np.clip(out, 0, 255).astype(np.uint8)
    for k, p in region_polygons(landmarks).items():
        if k in ("forehead", "left_cheek", "right_cheek", "mid_face"):
            cv2.polylines(out, [np.round(p * 4).astype(np.int32)], True, colours[k], 1, cv2.LINE_AA, shift=2)
    return out
