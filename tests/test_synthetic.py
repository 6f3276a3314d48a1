"""Synthetic-image detector: features, the spectral cue on a generated up-sampling artefact, a tiny
train-then-infer run on generated images, hash checking, applicability. Generated media only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from forensics_plugins.synthetic import features as F


def natural(rng: np.random.Generator, n: int, noise: float = 2.0) -> np.ndarray:
    """A photo-like RGB image: 1/f colour noise plus white 'sensor' noise, uint8."""
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.fftfreq(n)[None, :]
    amp = 1.0 / np.maximum(np.hypot(fx, fy), 1.0 / n)
    chans = []
    for _ in range(3):
        phase = np.exp(2j * np.pi * rng.random((n, n)))
        c = np.real(np.fft.ifft2(amp * phase))
        chans.append((c - c.mean()) / (c.std() + 1e-9))
    img = 128 + 40 * np.stack(chans, -1) + rng.normal(0, noise, (n, n, 1))
    return np.clip(img, 0, 255).astype(np.uint8)


def upsampled(rng: np.random.Generator, n: int, mode: str = "zero-insert") -> np.ndarray:
    """The same kind of image made at half size and up-sampled x2 as generators do: zero insertion followed by a
    bilinear kernel (a transposed convolution) or nearest-neighbour repetition. Leaves periodic traces."""
    small = natural(rng, n // 2).astype(np.float64)
    if mode == "nearest":
        up = np.repeat(np.repeat(small, 2, 0), 2, 1)
    else:
        import cv2

        z = np.zeros((n, n, 3))
        z[::2, ::2] = small
        k = np.array([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])
        up = np.stack([cv2.filter2D(z[..., c], -1, k, borderType=cv2.BORDER_REFLECT) for c in range(3)], -1)
    return np.clip(up, 0, 255).astype(np.uint8)


def save(folder: Path, images, fmt: str = "PNG") -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        Image.fromarray(im).save(folder / f"{i:03d}.{'png' if fmt == 'PNG' else 'jpg'}", format=fmt)


# ---------------------------------------------------------------------------------------------- features


def test_views_and_hand_crafted_features_are_deterministic():
    rng = np.random.default_rng(0)
    img = natural(rng, 300)
    a, aug_a = F.train_view(img, F.view_rng("ab" * 32, 0))
    b, aug_b = F.train_view(img, F.view_rng("ab" * 32, 0))
    c, aug_c = F.train_view(img, F.view_rng("ab" * 32, 1))
    assert np.array_equal(a, b) and aug_a == aug_b and aug_a != aug_c
    assert max(a.shape[:2]) <= F.SIDE and F.test_view(img).shape == (150, 150, 3)  # 300 px x 0.5, never enlarged
    assert 0.5 <= aug_a["scale"] <= 1.0 and 70 <= aug_a["quality"] <= 95 and aug_a["first_quality"] == 0
    assert F.train_view(img, F.view_rng("ab" * 32, 0), lossless=True)[1]["first_quality"] >= 80
    s1, _ = F.spectral_features(a)
    s2, _ = F.spectral_features(b)
    assert np.array_equal(s1, s2) and s1.shape == (len(F.SPECTRAL_NAMES),) and np.isfinite(s1).all()
    r = F.residual_features(a)
    assert np.array_equal(r, F.residual_features(b)) and r.shape == (len(F.RESIDUAL_NAMES),)
    # canonical: shrink the shorter side to <= COMMON_SIDE (never enlarge), then a central crop <= SIDE x SIDE
    assert F.canonical(np.zeros((100, 1000, 3), np.uint8)).shape == (100, F.SIDE, 3)
    assert F.canonical(np.zeros((1024, 2048, 3), np.uint8)).shape == (F.SIDE, F.SIDE, 3)
    assert F.common(np.zeros((1024, 2048, 3), np.uint8)).shape == (F.COMMON_SIDE, 2 * F.COMMON_SIDE, 3)


def test_spectral_cue_detects_a_periodic_upsampling_artefact():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    n = F.SIDE
    X, y = [], []
    for i in range(24):
        X.append(F.spectral_features(natural(rng, n))[0])
        y.append(0)
        X.append(F.spectral_features(upsampled(rng, n, "zero-insert" if i % 2 else "nearest"))[0])
        y.append(1)
    X, y = np.array(X), np.array(y)
    tr = np.arange(len(y)) < 32
    mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-9
    clf = LogisticRegression(C=0.1, max_iter=2000).fit((X[tr] - mu) / sd, y[tr])
    auc = roc_auc_score(y[~tr], clf.decision_function((X[~tr] - mu) / sd))
    assert auc >= 0.95, auc
    # the high-frequency end of the residual spectrum drops after up-sampling (Durall et al. 2020)
    hi = slice(F.RADIAL_BINS * 3 // 4, F.RADIAL_BINS)
    assert X[y == 1, hi].mean() < X[y == 0, hi].mean()
    # and a real photo-like image at native resolution does not light up as strongly
    assert np.median(X[y == 0, F.SPECTRAL_NAMES.index("hf_ratio")]) > np.median(
        X[y == 1, F.SPECTRAL_NAMES.index("hf_ratio")])


def test_format_baseline_sees_only_the_container(tmp_path):
    rng = np.random.default_rng(2)
    img = natural(rng, 64)
    save(tmp_path / "p", [img])
    save(tmp_path / "j", [img], fmt="JPEG")
    fp = F.format_features(tmp_path / "p" / "000.png")
    fj = F.format_features(tmp_path / "j" / "000.jpg")
    names = F.FORMAT_NAMES
    assert fp[names.index("is_png")] == 1 and fj[names.index("is_jpeg")] == 1
    assert fj[names.index("jpeg_quality")] > 0 and fp[names.index("jpeg_quality")] == 0


def test_npr_cue_sees_nearest_upsampling_cells():
    rng = np.random.default_rng(4)
    nat, up = natural(rng, 128), upsampled(rng, 128, "nearest")
    a, b = F.npr_features(nat), F.npr_features(up)
    assert a.shape == b.shape == (96,) and np.isfinite(a).all() and np.array_equal(a, F.npr_features(nat))
    # phase 0: every pixel of a 2x2 cell equals its anchor, so each per-position histogram (7 bins, square-rooted)
    # is all at the centre bin; the camera-like image spreads out
    centre = [k * 16 + F.NPR_T for k in range(3)]
    assert np.allclose(b[centre], 1.0) and (a[centre] < 0.9).all()
    # and the phase difference is large for the up-sampled image, small for the natural one
    assert np.abs(b[48:]).sum() > 3 * np.abs(a[48:]).sum()


def test_stage_statistics_over_the_whole_box_equal_the_pooled_ones():
    from forensics.api import imagenet_lite0

    model = imagenet_lite0()
    img = natural(np.random.default_rng(5), 96)
    fmap, stats, stages = F.probe_maps(model, img, keep_stages=True)
    assert stats.shape == (len(F.BLOCK_NAMES),) and fmap.shape[0] == 1280
    assert np.allclose(F.stage_statistics(stages, (0.0, 0.0, 1.0, 1.0)), stats)
    part = F.stage_statistics(stages, (0.0, 0.0, 0.5, 0.5))
    assert part.shape == stats.shape and not np.allclose(part, stats)


def test_ridge_cue_model_and_voting_gate():
    from forensics_plugins.synthetic.model import FORMAT_MARGIN, Linear, voting_gate

    rng = np.random.default_rng(6)
    X = rng.normal(size=(200, 5))
    y = (X[:, 0] + 0.1 * rng.normal(size=200) > 0).astype(int)
    m = Linear.fit_ridge(X, y, 1.0)
    assert np.array_equal(m.coef, Linear.fit_ridge(X, y, 1.0).coef)  # closed form: deterministic
    assert np.argmax(np.abs(m.coef)) == 0 and ((m.decision(X) > 0) == y).mean() > 0.9
    assert np.abs(Linear.fit_ridge(X, y, 100.0).coef).sum() < np.abs(m.coef).sum()  # the penalty shrinks
    good = {"auc": 0.70, "auc_ci95": [0.6, 0.8], "n_test": 10, "kind": "cross-source"}
    assert voting_gate(good, 0.5)[0]
    assert not voting_gate(good, 0.70 - FORMAT_MARGIN / 2)[0]  # not clearly above the format-only baseline
    assert not voting_gate(good, None)[0]
    assert not voting_gate({**good, "auc_ci95": [0.45, 0.8]}, 0.5)[0]  # interval includes chance


def _confounded(rng: np.random.Generator, n: int, style_real: tuple[float, float], style_fake: float):
    """Two real collections that differ only in a 'style' feature (column 0: processing, content) and one
    generated set; column 1 carries the real generation trace (+1 for generated), columns 2-5 noise."""
    X = rng.normal(size=(3 * n, 6))
    y = np.r_[np.zeros(2 * n), np.ones(n)].astype(int)
    g = np.array(["r1"] * n + ["r2"] * n + ["gen"] * n)
    X[:, 0] += np.r_[np.full(n, style_real[0]), np.full(n, style_real[1]), np.full(n, style_fake)]
    X[:, 1] += y
    return X, y, g


def test_nuisance_projection_drops_what_separates_real_collections():
    from forensics.api import roc_metrics
    from forensics_plugins.synthetic.model import Linear, nuisance_directions, source_balanced

    rng = np.random.default_rng(11)
    # training: the generated images share the processing of collection r2 (style 3), so style predicts 'generated'
    X, y, g = _confounded(rng, 300, (0.0, 3.0), 3.0)
    Z = (X - X.mean(0)) / X.std(0)
    V = nuisance_directions(Z, y, g, 4)
    assert V.shape == (1, 6)  # two real collections: one direction at most
    assert np.allclose(V @ V.T, np.eye(1)) and abs(V[0, 0]) > 0.95  # unit, along the style column
    assert nuisance_directions(Z, y, g, 0).shape == (0, 6)
    assert nuisance_directions(Z, y, np.array(["one"] * len(y)), 4).shape == (0, 6)  # one real source: none
    w = source_balanced(y, g)
    plain = Linear.fit_ridge(X, y, 0.1, w)
    proj = Linear.fit_ridge(X, y, 0.1, w, nuisance=1, groups=g)
    assert abs(plain.coef[0]) > abs(plain.coef[1]) / 2  # the confound is used without the projection
    assert abs(proj.coef[0]) < 0.05 * abs(proj.coef[1])  # and dropped with it
    assert np.array_equal(proj.coef, Linear.fit_ridge(X, y, 0.1, w, nuisance=1, groups=g).coef)  # deterministic
    # a new generator whose real partners carry the style and whose images do not: the confound now inverts
    Xt, yt, _ = _confounded(rng, 300, (3.0, 3.0), 0.0)
    auc_plain = roc_metrics(yt, plain.decision(Xt), ci_resamples=0)["auc"]
    auc_proj = roc_metrics(yt, proj.decision(Xt), ci_resamples=0)["auc"]
    assert auc_proj > 0.7 and auc_proj > auc_plain + 0.1


# ---------------------------------------------------------------------------------------------- train, infer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model trained on generated images: two 'generators' (zero-insertion and nearest up-sampling),
    each with its own real partner set, plus extra reals."""
    from forensics_plugins.synthetic.train import train

    root = tmp_path_factory.mktemp("synthetic")
    rng = np.random.default_rng(3)
    for g, mode in (("zeroins", "zero-insert"), ("nearest", "nearest")):
        save(root / "data" / g / "fake", [upsampled(rng, 128, mode) for _ in range(4)])
        save(root / "data" / g / "real", [natural(rng, 128) for _ in range(4)], fmt="JPEG")
    save(root / "data" / "extra", [natural(rng, 128) for _ in range(2)], fmt="JPEG")
    out = root / "models" / "synthetic"
    d = root / "data"
    card = train([("zeroins", d / "zeroins" / "fake"), ("nearest", d / "nearest" / "fake")],
                 [("zeroins", d / "zeroins" / "real"), ("nearest", d / "nearest" / "real"), ("extra", d / "extra")],
                 out, faces=[], sources_info={"zeroins": {"licence": "generated by the test"}}, max_per_class=None,
                 cache=root / "cache", seed=0, command="pytest", log=lambda *_: None)
    return root, out, card


@pytest.fixture
def models_at(monkeypatch):
    from forensics import models

    def use(root: Path):
        monkeypatch.setattr(models, "builtin_models_dir", lambda: root)
        monkeypatch.setenv("FORENSICS_MODELS_PATH", "")
        models._cache.clear()
        models._weights.clear()

    yield use
    models._cache.clear()
    models._weights.clear()


def _run(path: Path):
    from forensics.api import open_media
    from forensics_plugins.synthetic import SyntheticDetector

    media = open_media(path)
    det = SyntheticDetector()
    assert det.not_applicable_reason(media.item) is None
    return det.analyze(media.item, media)


@pytest.mark.slow
def test_tiny_train_then_infer(trained, models_at, tmp_path):
    root, out, card = trained
    saved = json.loads((out / "card.json").read_text())
    m = saved["metrics"]
    assert m["kind"] == "cross-source" and m["n_test"] == 16 and m["auc_ci95"] is not None
    assert set(saved["per_generator"]) == {"zeroins", "nearest"}
    assert "format" in saved["per_generator"]["zeroins"] and saved["format_baseline"]["within_source"]
    assert (out / "synthetic.json").stat().st_size < 20_000_000
    assert (out / "MODEL_CARD.md").read_text().startswith("# Model card: `synthetic`")
    assert saved["files"]["weights"]["sha256"] == card["files"]["weights"]["sha256"]
    # the ablation table's first row re-runs the shipped recipe: it must reproduce the headline AUC
    ab = saved["ablations"]
    assert ab[0]["variant"] == "shipped recipe" and ab[0]["all"]["auc"] == m["auc"]
    assert any(r["cues"] == ["spectral"] for r in ab) and "## Ablations" in (out / "MODEL_CARD.md").read_text()

    models_at(root / "models")
    rng = np.random.default_rng(9)
    save(tmp_path / "q", [upsampled(rng, 200, "nearest")])
    f = _run(tmp_path / "q" / "000.png")
    assert f.status.value in ("ran", "inconclusive")
    titles = [a.title for a in f.artifacts]
    assert any("heat map" in t for t in titles) and any("Spectral" in t for t in titles)
    assert set(f.details["cue_logits"]) == set(F.CUES)
    if f.status.value == "ran":
        assert 0.0 <= f.probability <= 1.0 and f.error_rate["auc"] == m["auc"]
    else:
        assert f.probability is None and "does not vote" in f.reason
    # deterministic
    g = _run(tmp_path / "q" / "000.png")
    assert g.score == f.score and g.details == f.details and [a.sha256 for a in g.artifacts] == [
        a.sha256 for a in f.artifacts]

    # retraining from the feature cache gives the same weights file
    from forensics_plugins.synthetic.train import train

    d = root / "data"
    again = root / "again"
    train([("zeroins", d / "zeroins" / "fake"), ("nearest", d / "nearest" / "fake")],
          [("zeroins", d / "zeroins" / "real"), ("nearest", d / "nearest" / "real"), ("extra", d / "extra")],
          again, max_per_class=None, cache=root / "cache", seed=0, command="pytest", log=lambda *_: None)
    assert (again / "synthetic.json").read_bytes() == (out / "synthetic.json").read_bytes()


@pytest.mark.slow
def test_interval_including_chance_gives_inconclusive_with_maps(trained, models_at, tmp_path):
    root, out, _ = trained
    copy = tmp_path / "models" / "synthetic"
    shutil.copytree(out, copy)
    card = json.loads((copy / "card.json").read_text())
    card["metrics"]["auc"], card["metrics"]["auc_ci95"] = 0.55, [0.45, 0.65]
    (copy / "card.json").write_text(json.dumps(card))
    models_at(tmp_path / "models")
    rng = np.random.default_rng(4)
    save(tmp_path / "q", [natural(rng, 128)], fmt="JPEG")
    f = _run(tmp_path / "q" / "000.jpg")
    assert f.status.value == "inconclusive" and f.probability is None
    assert "includes 0.5" in f.reason and len(f.artifacts) == 2


@pytest.mark.slow
def test_loader_refuses_altered_weights(trained, models_at, tmp_path):
    from forensics.api import ModelUnavailable

    root, out, _ = trained
    copy = tmp_path / "models" / "synthetic"
    shutil.copytree(out, copy)
    w = copy / "synthetic.json"
    w.write_text(w.read_text() + " ")  # one byte more: same model, different hash
    models_at(tmp_path / "models")
    rng = np.random.default_rng(5)
    save(tmp_path / "q", [natural(rng, 96)])
    with pytest.raises(ModelUnavailable, match="SHA-256"):
        _run(tmp_path / "q" / "000.png")


def test_missing_model_is_unavailable_and_video_is_not_applicable(models_at, tmp_path):
    from forensics.api import ModelUnavailable
    from forensics_plugins.synthetic import SyntheticDetector

    det = SyntheticDetector()
    reason = det.not_applicable_reason(SimpleNamespace(kind="video", format="mp4"))
    assert reason and "image" in reason
    (tmp_path / "empty").mkdir()
    models_at(tmp_path / "empty")
    save(tmp_path / "q", [natural(np.random.default_rng(6), 96)])
    with pytest.raises(ModelUnavailable, match="not installed"):
        _run(tmp_path / "q" / "000.png")


@pytest.mark.slow
def test_tiny_images_are_inconclusive_not_crashing(trained, models_at, tmp_path):
    root, _, _ = trained
    models_at(root / "models")
    save(tmp_path / "q", [natural(np.random.default_rng(7), 32)])
    f = _run(tmp_path / "q" / "000.png")
    assert f.status.value == "inconclusive" and "pixels" in f.reason


def test_test_view_file_is_the_test_view():
    """The fusion-set file written for an image decodes to exactly the detector input the held-out model scored."""
    from forensics.api import decode_image

    rng = np.random.default_rng(11)
    for shape in ((300, 300), (700, 1100), (97, 203)):
        rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        assert np.array_equal(F.canonical(decode_image(F.test_view_jpeg(rgb))), F.test_view(rgb))


@pytest.mark.slow
def test_fusion_set_carries_out_of_fold_scores(trained, models_at, tmp_path):
    """--fusion-set: per held-out generator, test-view files in real/ and fake/, a MANIFEST.csv, and the card's
    out_of_fold entries, which `forensics evaluate` substitutes for the shipped model's in-sample scores."""
    from forensics.datasets import read_dataset
    from forensics.evaluate import run_dataset, substitute_out_of_fold
    from forensics_plugins.synthetic.train import train

    root, _, _ = trained
    d = root / "data"
    out, fs = tmp_path / "models" / "synthetic", tmp_path / "fusion_syn"
    card = train([("zeroins", d / "zeroins" / "fake"), ("nearest", d / "nearest" / "fake")],
                 [("zeroins", d / "zeroins" / "real"), ("nearest", d / "nearest" / "real"), ("extra", d / "extra")],
                 out, max_per_class=None, cache=root / "cache", seed=0, command="pytest", ablations=False,
                 fusion_set=fs, fusion_set_per_class=3, log=lambda *_: None)
    oof = card["out_of_fold"]
    assert len(oof) == 12 and {e["source"] for e in oof} == {"zeroins", "nearest"}
    assert (fs / "MANIFEST.csv").read_text().splitlines()[0].startswith("set,repo")
    for g in ("zeroins", "nearest"):
        items = read_dataset(fs / g)
        assert sorted(x.label for x in items) == [0, 0, 0, 1, 1, 1]
        assert {x.path.name for x in items} == {e["file"] for e in oof if e["source"] == g}
    saved = json.loads((out / "card.json").read_text())
    assert saved["out_of_fold"] == oof and saved["training"]["fusion_set"]["files"] == 12
    # the card alone (no training) writes the same files again from the training folders
    from forensics_plugins.synthetic.train import rebuild_fusion_set

    again = tmp_path / "again"
    assert rebuild_fusion_set(oof, [("zeroins", d / "zeroins" / "fake"), ("nearest", d / "nearest" / "fake")],
                              [("zeroins", d / "zeroins" / "real"), ("nearest", d / "nearest" / "real")], again,
                              log=lambda *_: None) == {"zeroins": 6, "nearest": 6}
    for e in oof:
        sub = "fake" if e["label"] else "real"
        assert (again / e["source"] / sub / e["file"]).read_bytes() == (fs / e["source"] / sub / e["file"]).read_bytes()

    saved["metrics"]["auc"], saved["metrics"]["auc_ci95"] = 0.9, [0.8, 0.95]  # let the tiny model vote
    saved["format_baseline"]["logo"]["auc"] = 0.5
    (out / "card.json").write_text(json.dumps(saved))
    models_at(tmp_path / "models")
    res = run_dataset([fs / "zeroins"], detectors=["synthetic"])
    rows = res["rows"]
    assert substitute_out_of_fold(rows) == {"synthetic": 6}
    table = {e["file"]: e["probability"] for e in oof}
    for r in rows:
        f = r["findings"][0]
        assert f["probability"] == table[r["file"]] and "probability_in_sample" in f


def test_fusion_manifest_names_the_repository_also_for_shared_data_sources(tmp_path):
    """A set taken from the shared data names its origin repository without a commit; the fusion card's source line
    then says so instead of printing an empty commit."""
    from forensics.api import forgery_set_source
    from forensics_plugins.synthetic.train import _repository_of, _write_fusion_manifest

    assert _repository_of("A/b-c @ 60c61bb6e7e4853453b2a3478561f043f1bfe79a, data/fake/x") == (
        "A/b-c", "60c61bb6e7e4853453b2a3478561f043f1bfe79a")
    assert _repository_of("shared data face_image/fake, from tharun/Real-vs-Fake images/fake; 300x300") == (
        "tharun/Real-vs-Fake", "")
    assert _repository_of("a description without a repository") == ("", "")
    _write_fusion_manifest(tmp_path, ["g1", "g2"], {
        "g1": {"source_fake": "A/b @ 0123456789abcdef0123456789abcdef01234567, x", "source_real": "A/b @ 0123456, y"},
        "g2": {"source_fake": "shared data face_image/fake, from o/n images/fake", "source_real": "z"}})
    (tmp_path / "g1").mkdir()
    (tmp_path / "g2").mkdir()
    assert forgery_set_source(tmp_path / "g1") == "A/b @ 0123456789ab"
    assert forgery_set_source(tmp_path / "g2") == "o/n (commit not recorded)"
