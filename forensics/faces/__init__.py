"""The shared face pipeline: detect, landmark, align and track faces once per item.

Every face-based detector (FWA, blink, rPPG, ResNeXt-LSTM) reads the same
:class:`FaceAnalysis`, computed once per evidence item and cached with
``media.shared("faces", ...)``::

    from forensics.faces import NoFaceError, face_analysis

    try:
        fa = face_analysis(media)
    except NoFaceError as exc:
        return self.not_applicable(str(exc))
    for track in fa.tracks:
        for obs in track.observations:
            obs.crop            # CROP_SIZE x CROP_SIZE x 3 uint8 RGB, aligned, with margin
            obs.crop_landmarks  # (68, 2) float32 in crop coordinates

Pipeline
--------
* **Sampling** (video, :class:`~forensics.faces.pipeline.SamplingPlan`): the whole
  duration. Dense windows of :data:`MAX_SECONDS` (every ``stride``-th frame,
  ``stride = ceil(fps / 30)``: every frame up to 30 fps, so blink and rPPG get a
  dense, evenly spaced sequence; a clip no longer than one window is dense
  throughout) and, between them, one detector-confirmed frame per second.
  ``FaceAnalysis.tracks`` are the dense tracks; ``FaceAnalysis.video_tracks``
  follow each face over the whole video (crops kept for a capped, evenly spread
  subset of the sparse frames); ``FaceAnalysis.coverage`` says which seconds were
  analysed and why others were not. Frames are streamed (decoded in a prefetch
  thread) and never kept. A still image is one frame.
* **Detection**: dlib's HOG + linear-SVM frontal face detector (Dalal & Triggs
  2005; dlib, D. King, JMLR 2009) on a grey copy of the frame downscaled to about
  :data:`DETECT_SIDE` pixels on its long side (boxes are mapped back to full-frame
  coordinates); if it finds nothing there it retries at :data:`MAX_DETECT_SIDE`
  (the HOG window is 80 px, so smaller faces need it) and keeps that scale. In
  videos it runs every :data:`DETECT_EVERY` sampled frames and on the frame after
  a track is lost.
* **Landmarks**: dlib's 68-point shape predictor (Kazemi & Sullivan, CVPR 2014;
  iBUG 300-W point order) on every sampled frame, at full resolution, from the
  detector box or -- between detections -- from the box predicted from the
  previous frame's landmarks.
* **Tracking**: greedy IoU matching of detections to tracks; a track that the
  detector misses :data:`MAX_MISSES` detection rounds in a row ends (its
  unconfirmed tail is dropped). Faces smaller than :data:`MIN_FACE_SIDE` pixels and
  tracks shorter than :data:`MIN_TRACK_FRAMES` observations are dropped.
* **Alignment**: :func:`align_face` -- a least-squares similarity transform
  (Umeyama 1991) taking eye centres, nose tip and mouth corners to a fixed
  template, with a margin so that forehead, chin and cheeks are inside the crop.

Model provenance
----------------
The 68-point model ships in the PyPI package ``face-recognition-models`` (which
declares MIT/CC0), but it was trained on the iBUG 300-W data set, whose licence
*excludes commercial use*. :func:`pipeline_info` returns the file, its SHA-256
and this caveat; detectors put it in ``Finding.details["face_pipeline"]`` so that
the report shows it.

Modules: :mod:`~forensics.faces.detect` (detector, landmarks, provenance), :mod:`~forensics.faces.track`
(tracking), :mod:`~forensics.faces.align` (alignment geometry), :mod:`~forensics.faces.draw` (figures) and
:mod:`~forensics.faces.pipeline` (the entry points); this package re-exports their public names.
"""

from __future__ import annotations

from forensics.faces.align import (  # noqa: F401
    align_face,
    five_points,
    invert_affine,
    iou,
    similarity_transform,
    template_points,
    transform_points,
)
from forensics.faces.base import (  # noqa: F401
    CROP_SIZE,
    DEFAULT_MARGIN,
    DETECT_EVERY,
    DETECT_SIDE,
    DETECT_THRESHOLD,
    IMAGE_DETECT_SIDE,
    IMAGE_DETECT_THRESHOLD,
    IMAGE_PAD,
    JAW,
    LANDMARK_FILE,
    LANDMARK_LICENCE,
    LANDMARK_SHA256,
    LEFT_BROW,
    LEFT_EYE,
    MATCH_IOU,
    MAX_DETECT_SIDE,
    MAX_FRAMES,
    MAX_MISSES,
    MAX_SECONDS,
    MAX_TRACKS,
    MIN_FACE_SIDE,
    MIN_TRACK_FRAMES,
    MOUTH,
    NOSE,
    RIGHT_BROW,
    RIGHT_EYE,
    TARGET_FPS,
    TEMPLATE_5,
    FaceAnalysis,
    FaceObservation,
    FaceTrack,
    NoFaceError,
)
from forensics.faces.detect import (  # noqa: F401
    _dlib_models,
    detect_faces,
    landmark_model_path,
    landmarks_in_box,
    pipeline_info,
)
from forensics.faces.draw import (  # noqa: F401
    draw_landmarks,
)
from forensics.faces.pipeline import (  # noqa: F401
    analyse_frames,
    analyse_image,
    evenly_spaced,
    face_analysis,
    face_analysis_for_file,
    video_sampling,
)
from forensics.faces.track import (  # noqa: F401
    FaceTracker,
)

__all__ = [
    "CROP_SIZE",
    "DEFAULT_MARGIN",
    "DETECT_EVERY",
    "DETECT_SIDE",
    "DETECT_THRESHOLD",
    "FaceAnalysis",
    "FaceObservation",
    "FaceTrack",
    "FaceTracker",
    "IMAGE_DETECT_SIDE",
    "IMAGE_DETECT_THRESHOLD",
    "IMAGE_PAD",
    "JAW",
    "LANDMARK_FILE",
    "LANDMARK_LICENCE",
    "LANDMARK_SHA256",
    "LEFT_BROW",
    "LEFT_EYE",
    "MATCH_IOU",
    "MAX_DETECT_SIDE",
    "MAX_FRAMES",
    "MAX_MISSES",
    "MAX_SECONDS",
    "MAX_TRACKS",
    "MIN_FACE_SIDE",
    "MIN_TRACK_FRAMES",
    "MOUTH",
    "NOSE",
    "NoFaceError",
    "RIGHT_BROW",
    "RIGHT_EYE",
    "TARGET_FPS",
    "TEMPLATE_5",
    "align_face",
    "analyse_frames",
    "analyse_image",
    "detect_faces",
    "draw_landmarks",
    "evenly_spaced",
    "face_analysis",
    "face_analysis_for_file",
    "five_points",
    "invert_affine",
    "iou",
    "landmark_model_path",
    "landmarks_in_box",
    "pipeline_info",
    "similarity_transform",
    "template_points",
    "transform_points",
    "video_sampling",
]
