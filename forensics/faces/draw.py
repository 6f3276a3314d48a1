"""Drawing landmarks and boxes on frames, for report figures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    pass

def draw_landmarks(rgb: np.ndarray, landmarks: np.ndarray, box: Iterable[float] | None = None) -> np.ndarray:
    """A copy of ``rgb`` with landmarks (and optionally a box) drawn, for report artifacts."""
    import cv2

    out = np.array(rgb, copy=True)
    r = max(1, round(max(out.shape[:2]) / 300))
    for x, y in np.asarray(landmarks):
        cv2.circle(out, (int(round(x)), int(round(y))), r, (0, 255, 0), -1, lineType=cv2.LINE_AA)
    if box is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 200, 0), r)
    return out
