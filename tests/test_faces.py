"""The shared face pipeline (forensics.faces): alignment maths, detection, tracking, caching."""

from __future__ import annotations

import numpy as np
import pytest

from forensics import faces
from forensics.faces import NoFaceError


@pytest.fixture(scope="module")
def astronaut():
    import skimage.data

    return skimage.data.astronaut()


def _canvas_with_faces(astronaut, positions, size=(360, 640)):
    """Paste the astronaut's head (a 200x200 patch) at each (x, y) on a grey canvas."""
    head = astronaut[40:240, 120:320]
    canvas = np.full((*size, 3), 120, dtype=np.uint8)
    for x, y in positions:
        canvas[y:y + 200, x:x + 200] = head
    return canvas


# ---------------------------------------------------------------- alignment maths


def test_similarity_transform_recovers_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, size=(10, 2))
    angle, scale, t = np.deg2rad(17.0), 1.7, np.array([12.0, -5.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ (scale * rot).T + t
    m = faces.similarity_transform(src, dst)
    np.testing.assert_allclose(m[:, :2], scale * rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], t, atol=1e-9)
    np.testing.assert_allclose(faces.transform_points(src, m), dst, atol=1e-9)
    back = faces.transform_points(dst, faces.invert_affine(m))
    np.testing.assert_allclose(back, src, atol=1e-6)


def test_similarity_transform_has_no_reflection():
    src = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    dst = src * np.array([-1.0, 1.0])  # a mirror image: the fit must stay a rotation + scale
    a = faces.similarity_transform(src, dst)[:, :2]
    assert a[0, 0] == pytest.approx(a[1, 1]) and a[0, 1] == pytest.approx(-a[1, 0])
    assert np.linalg.det(a) >= 0


def test_align_face_puts_reference_points_on_template():
    # landmarks whose five reference points are the template, rotated by 30 degrees, scaled x3 and shifted
    size, margin = 128, 0.3
    template = faces.template_points(size, margin)
    angle = np.deg2rad(30)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    lm = np.zeros((68, 2))
    frame_pts = template @ (3 * rot).T + np.array([200.0, 50.0])
    lm[faces.RIGHT_EYE] = frame_pts[0]
    lm[faces.LEFT_EYE] = frame_pts[1]
    lm[30], lm[48], lm[54] = frame_pts[2], frame_pts[3], frame_pts[4]
    rgb = np.zeros((600, 600, 3), np.uint8)
    crop, m = faces.align_face(rgb, lm, size=size, margin=margin)
    assert crop.shape == (size, size, 3) and crop.dtype == np.uint8
    np.testing.assert_allclose(faces.transform_points(faces.five_points(lm), m), template, atol=1e-6)
    np.testing.assert_allclose(np.linalg.det(m[:, :2]), 1 / 9, rtol=1e-6)  # undoes the x3 scale


def test_video_sampling():
    assert faces.video_sampling(24.0) == (1, 480)
    assert faces.video_sampling(30.0) == (1, 600)
    assert faces.video_sampling(60.0) == (2, 600)
    assert faces.video_sampling(59.94) == (2, 600)
    assert faces.video_sampling(120.0) == (4, 600)
    assert faces.video_sampling(15.0, frame_count=45) == (1, 45)


# ---------------------------------------------------------------- detection and landmarks


def test_face_found_in_astronaut(astronaut):
    fa = faces.analyse_image(astronaut)
    assert len(fa.tracks) == 1 and fa.is_image and fa.frames_sampled == 1
    obs = fa.tracks[0].observations[0]
    x0, y0, x1, y1 = obs.box
    assert 150 < (x0 + x1) / 2 < 260 and 90 < (y0 + y1) / 2 < 170  # her face
    assert obs.landmarks.shape == (68, 2) and obs.landmarks.dtype == np.float32
    assert obs.crop.shape == (faces.CROP_SIZE, faces.CROP_SIZE, 3)
    assert obs.matrix.shape == (2, 3)
    # the crop landmarks are the frame landmarks mapped by the matrix, and the eyes land near the template
    np.testing.assert_allclose(obs.crop_landmarks, faces.transform_points(obs.landmarks, obs.matrix), atol=1e-3)
    five = faces.five_points(obs.crop_landmarks)
    assert np.abs(five - faces.template_points()).max() < 0.06 * faces.CROP_SIZE
    # generous margin: the jaw and brows lie well inside the crop
    assert obs.crop_landmarks.min() > 0.08 * faces.CROP_SIZE and obs.crop_landmarks.max() < 0.92 * faces.CROP_SIZE


def test_no_face_on_blank_image():
    with pytest.raises(NoFaceError, match=r"^No faces detected") as exc:
        faces.analyse_image(np.full((240, 320, 3), 128, np.uint8))
    from forensics.media import MediaError

    assert isinstance(exc.value, MediaError)


def test_pipeline_info_records_landmark_hash_and_licence():
    info = faces.pipeline_info()
    lm = info["landmark_model"]
    assert lm["sha256"] == lm["expected_sha256"] == faces.LANDMARK_SHA256
    assert "300-W" in lm["licence"] and "commercial" in lm["licence"]


# ---------------------------------------------------------------- tracking


class _F:
    def __init__(self, index, rgb, fps=30.0):
        self.index, self.time_s, self.rgb = index, index / fps, rgb


def test_tracking_keeps_ids_for_two_moving_faces(astronaut):
    frames = [_F(i, _canvas_with_faces(astronaut, [(10 + 3 * i, 80), (420 - 2 * i, 100 + i)])) for i in range(12)]
    fa = faces.analyse_frames(frames, 640, 360, fps=30.0, stride=1)
    assert [t.track_id for t in fa.tracks] == [0, 1]
    assert [len(t) for t in fa.tracks] == [12, 12]
    assert fa.frames_sampled == 12 and fa.frames_with_faces == 12 and fa.fps == 30.0
    left, right = fa.tracks
    # ids follow the faces: track 0 stays the left face, moving right; track 1 the right face, moving left
    lx = [o.box[0] for o in left.observations]
    rx = [o.box[0] for o in right.observations]
    assert max(lx) < 320 < min(rx)
    assert lx[-1] > lx[0] and rx[-1] < rx[0]
    # detector ran every DETECT_EVERY frames; between, landmarks followed the track
    assert sum(o.detected for o in left.observations) == len(range(0, 12, faces.DETECT_EVERY))


def test_face_leaving_ends_track_and_short_tracks_are_dropped(astronaut):
    blank = np.full((360, 640, 3), 120, np.uint8)
    frames = [_F(i, _canvas_with_faces(astronaut, [(100, 80)]) if i < 10 else blank) for i in range(25)]
    frames += [_F(25 + i, _canvas_with_faces(astronaut, [(400, 80)])) for i in range(2)]  # too short to keep
    fa = faces.analyse_frames(frames, 640, 360, fps=30.0, stride=1)
    assert len(fa.tracks) == 1
    idx = fa.tracks[0].frame_indices
    assert idx.min() == 0 and idx.max() <= 9  # no observations of the empty canvas survive


def test_face_analysis_on_video_is_cached(tmp_path, astronaut):
    from forensics.case import hash_item, scan_case
    from forensics.demo import write_mp4
    from forensics.media import MediaAccess

    case = tmp_path / "case"
    case.mkdir()
    write_mp4(case / "clip.mp4", (_canvas_with_faces(astronaut, [(100 + 4 * i, 60)]) for i in range(20)), fps=15)
    (item,) = scan_case(case)
    hash_item(item)
    media = MediaAccess(item)
    fa = faces.face_analysis(media)
    assert faces.face_analysis(media) is fa  # computed once per item
    assert fa.stride == 1 and fa.fps == pytest.approx(15.0) and fa.frames_sampled == 20
    assert fa.duration_s == pytest.approx(20 / 15, abs=0.01)
    assert len(fa.tracks) == 1 and len(fa.tracks[0]) == 20
    times = fa.tracks[0].times
    assert np.allclose(np.diff(times), 1 / 15, atol=1e-3)


def test_tightly_cropped_portrait_is_found_by_padding(astronaut):
    tight = np.ascontiguousarray(astronaut[95:180, 180:270])  # the face fills the frame: HOG alone misses it
    assert faces.detect_faces(tight, faces.IMAGE_DETECT_SIDE, 0, faces.IMAGE_DETECT_THRESHOLD) == []
    fa = faces.analyse_image(tight)
    obs = fa.tracks[0].observations[0]
    # coordinates are in the original (unpadded) image, and the matrix still maps frame -> crop
    assert -20 < obs.box[0] < 20 and -20 < obs.box[1] < 20
    crop, matrix = faces.align_face(tight, obs.landmarks)
    np.testing.assert_allclose(matrix, obs.matrix, atol=1e-6)
    assert np.abs(crop.astype(int) - obs.crop).max() <= 1
