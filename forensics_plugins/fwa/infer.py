"""FWA/SBI inference on faces from the shared face pipeline: the same code for the detector and for evaluation.

Aggregation rule (stated in findings and the model card)
--------------------------------------------------------
* each face observation gets P(manipulated) = sigmoid(logit) of the network on its face crop (the aligned
  crop at :data:`.data.STORE_SIDE` px, cut to the landmarks' box plus a fixed margin, resized to the input size);
* a face track's score is the **mean** P over up to :data:`FRAMES_PER_TRACK` frames evenly spaced in time over
  the whole track (as Shiohara & Yamasaki average frame predictions over the video); a video's tracks are the
  pipeline's whole-duration tracks (:func:`.data.scored_tracks`), so frames come from the whole video;
* the item's score is the **maximum** over its face tracks (one manipulated face is enough); a still image
  is one frame per face.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from forensics.api import FaceObservation

from .data import FRAMES_PER_TRACK, evenly_timed, scored_tracks, shrink
from .warp import cut_roi, roi_box

AGGREGATION = (f"per face track (followed over the whole video): mean P(manipulated) over up to {FRAMES_PER_TRACK} "
               "frames evenly spaced in time over the whole track; item: maximum over face tracks")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def roi_input(crop: np.ndarray, crop_landmarks: np.ndarray, size: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The network input for one aligned face (fixed, middle ROI margins) and the ROI box in crop coords.

    ``crop`` may be the pipeline's full-size crop or the cached :data:`.data.STORE_SIDE` one: it is first
    brought to that side, exactly as in training.
    """
    crop, crop_landmarks = shrink(crop, np.asarray(crop_landmarks, dtype=np.float32))
    box = roi_box(crop_landmarks, crop.shape[:2], rng=None)
    return cut_roi(crop, box, size), box


def aggregate_track(probabilities) -> float:
    """A face track's score from its frame probabilities (the mean)."""
    return float(np.mean(probabilities))


def aggregate(track_probabilities: list[list[float]]) -> float:
    """Item score from per-track, per-frame probabilities: max over tracks of the track score."""
    return float(max(aggregate_track(p) for p in track_probabilities))


@dataclass
class TrackScore:
    track_id: int
    frame_indices: list[int]
    times: list[float]
    probabilities: list[float]
    observations: list[FaceObservation] = field(default_factory=list, repr=False)
    cams: np.ndarray | None = field(default=None, repr=False)  # (n, h, w) logit units
    inputs: np.ndarray | None = field(default=None, repr=False)  # (n, size, size, 3)

    @property
    def score(self) -> float:
        return aggregate_track(self.probabilities)


def score_tracks(model, arch: str, size: int, fa, frames_per_track: int = FRAMES_PER_TRACK,
                 with_cam: bool = False) -> list[TrackScore]:
    """Score every face track of a :class:`forensics.api.FaceAnalysis` (:func:`.data.scored_tracks`: the
    whole-duration tracks of a video)."""
    from .model import predict

    out = []
    for track_id, observations in scored_tracks(fa):
        obs = evenly_timed(observations, frames_per_track)
        inputs = np.stack([roi_input(o.crop, o.crop_landmarks, size)[0] for o in obs])
        res = predict(model, arch, inputs, with_cam=with_cam)
        logits, cams = res if with_cam else (res, None)
        out.append(TrackScore(track_id=track_id, frame_indices=[o.frame_index for o in obs],
                              times=[float(o.time_s) for o in obs], probabilities=sigmoid(logits).tolist(),
                              observations=obs, cams=cams, inputs=inputs if with_cam else None))
    return out
