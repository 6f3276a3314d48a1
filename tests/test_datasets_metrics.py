"""Labelled-data layouts (generated folders) and evaluation metrics (against scikit-learn)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from forensics.datasets import (
    DatasetError,
    detect_layout,
    grouped_split,
    identity_components,
    identity_tokens,
    read_dataset,
)
from forensics.metrics import confusion, equal_error_rate, expected_calibration_error, roc_metrics


def _touch(root, rel):
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"x")
    return p


def test_real_fake_folders(tmp_path):
    for rel in ("real/a.jpg", "real/sub/b.png", "fake/c.mp4", "fake/.hidden.jpg", "fake/notes.txt", "other/d.jpg"):
        _touch(tmp_path, rel)
    assert detect_layout(tmp_path) == "folders"
    s = read_dataset(tmp_path)
    assert sorted((x.path.name, x.label, x.kind) for x in s) == [("a.jpg", 0, "image"), ("b.png", 0, "image"),
                                                               ("c.mp4", 1, "video")]
    assert [x.path.name for x in read_dataset(tmp_path, kinds=("video",))] == ["c.mp4"]


def test_faceforensics_layout_with_official_split(tmp_path):
    for rel in ("original_sequences/youtube/c23/videos/071.mp4", "original_sequences/youtube/c40/videos/071.mp4",
                "original_sequences/youtube/c23/videos/054.mp4",
                "manipulated_sequences/Deepfakes/c23/videos/071_054.mp4",
                "manipulated_sequences/Face2Face/c23/videos/054_071.mp4",
                "original_sequences/actors/c23/videos/01__kitchen_pan.mp4"):
        _touch(tmp_path, rel)
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "test.json").write_text(json.dumps([["071", "054"]]))
    assert detect_layout(tmp_path) == "faceforensics"
    s = read_dataset(tmp_path, compression="c23")
    got = {(x.path.parent.parent.parent.name, x.path.name): (x.label, x.method, x.split) for x in s}
    assert got[("Deepfakes", "071_054.mp4")] == (1, "Deepfakes", "test")
    assert got[("youtube", "071.mp4")] == (0, "original", "test")
    assert got[("actors", "01__kitchen_pan.mp4")] == (0, "original", None)
    assert len(s) == 5  # the c40 copy is filtered out


def test_celebdf_layout_uses_testing_list(tmp_path):
    for rel in ("Celeb-real/id0_0000.mp4", "Celeb-real/id1_0001.mp4", "YouTube-real/00001.mp4",
                "Celeb-synthesis/id0_id1_0000.mp4", "Celeb-synthesis/id1_id0_0002.mp4"):
        _touch(tmp_path, rel)
    (tmp_path / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00001.mp4\n0 Celeb-synthesis/id0_id1_0000.mp4\n")
    assert detect_layout(tmp_path) == "celebdf"
    s = {x.path.name: x for x in read_dataset(tmp_path)}
    assert s["00001.mp4"].label == 0 and s["00001.mp4"].split == "test"
    assert s["id0_id1_0000.mp4"].label == 1 and s["id0_id1_0000.mp4"].split == "test"
    assert s["id1_id0_0002.mp4"].split == "train"
    assert s["id0_id1_0000.mp4"].group == frozenset({"celeb:id0", "celeb:id1"})
    (tmp_path / "List_of_testing_videos.txt").write_text("0 Celeb-real/id0_0000.mp4\n")  # contradicts the folder
    with pytest.raises(DatasetError):
        read_dataset(tmp_path)


def test_dfdc_layout(tmp_path):
    part = tmp_path / "dfdc_train_part_0"
    for n in ("aaa.mp4", "bbb.mp4", "ccc.mp4"):
        _touch(part, n)
    (part / "metadata.json").write_text(json.dumps({
        "aaa.mp4": {"label": "REAL", "split": "train", "original": None},
        "bbb.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"},
        "ccc.mp4": {"label": "FAKE", "split": "train", "original": "zzz.mp4"},
        "missing.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"}}))
    assert detect_layout(tmp_path) == "dfdc"
    s = {x.path.name: x for x in read_dataset(tmp_path)}
    assert set(s) == {"aaa.mp4", "bbb.mp4", "ccc.mp4"}
    assert s["aaa.mp4"].label == 0 and s["bbb.mp4"].label == 1
    assert s["aaa.mp4"].group == s["bbb.mp4"].group != s["ccc.mp4"].group


def test_unknown_layout_is_one_clear_error(tmp_path):
    _touch(tmp_path, "misc/a.jpg")
    with pytest.raises(DatasetError, match="not a recognised labelled data set"):
        read_dataset(tmp_path)


def test_identity_split_keeps_faces_on_one_side(tmp_path):
    names = ["real/183.mp4", "real/253.mp4", "real/469.mp4", "real/481.mp4", "real/01__kitchen.mp4",
             "real/02__walk.mp4", "fake/183_253.mp4", "fake/253_183_1.mp4", "fake/469_481.mp4",
             "fake/481_469_2.mp4", "fake/585_599.mp4", "real/585.mp4"]
    for n in names:
        _touch(tmp_path, n)
    s = read_dataset(tmp_path)
    assert identity_tokens("FaceForensics-Detection_Website__253_183_1") == frozenset({"ff:183", "ff:253"})
    comps = identity_components(s)
    by = {x.path.name: c for x, c in zip(s, comps)}
    assert by["183.mp4"] == by["253.mp4"] == by["183_253.mp4"] == by["253_183_1.mp4"]
    assert by["183.mp4"] != by["469.mp4"]
    for seed in range(5):
        split = grouped_split(s, 0.3, seed)
        side = {}
        for x, sp in zip(s, split):
            for tok in x.group:
                assert side.setdefault(tok, sp) == sp, f"{tok} on both sides (seed {seed})"
        assert {x.label for x, sp in zip(s, split) if sp == "test"} == {0, 1}


# ------------------------------------------------------------------------------ metrics
def test_metrics_match_scikit_learn():
    from sklearn.metrics import accuracy_score, confusion_matrix, roc_auc_score, roc_curve

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(0.3 * y + rng.random(200) * 0.7, 0, 1)
    m = roc_metrics(y, p, threshold=0.4)
    assert m["auc"] == round(roc_auc_score(y, p), 4)
    assert m["accuracy"] == round(accuracy_score(y, p >= 0.4), 4)
    tn, fp, fn, tp = confusion_matrix(y, p >= 0.4).ravel()
    assert m["confusion"] == {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    fpr, tpr, _ = roc_curve(y, p)
    eer, _ = equal_error_rate(y, p)
    assert min(abs((1 - tpr) - fpr)) <= 0.05 and 0 < eer < 0.5
    assert m["n_test"] == 200 and m["n_test_positive"] == int(y.sum())


def test_known_values():
    y = np.array([0, 0, 1, 1])
    assert roc_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]))["eer"] == 0.0
    assert roc_metrics(y, np.array([0.9, 0.8, 0.2, 0.1]))["auc"] == 0.0
    assert confusion(y, np.array([0.5, 0.4, 0.5, 0.4])) == {"tn": 1, "fp": 1, "fn": 1, "tp": 1}
    # ECE: bin [0.2, 0.3) holds p=.2,.2 with outcomes 0,1 -> |0.5-0.2| = 0.3, weight 1/2;
    # bin [0.9, 1.0] holds p=.9,1.0 with outcomes 1,1 -> |1-0.95| = 0.05, weight 1/2
    assert expected_calibration_error(y[[0, 2, 3, 3]], np.array([0.2, 0.2, 0.9, 1.0])) == pytest.approx(0.175)
    assert expected_calibration_error(np.array([1, 0] * 50), np.full(100, 0.5)) == pytest.approx(0.0)
    one = roc_metrics(np.array([1, 1]), np.array([0.3, 0.9]))
    assert one["auc"] is None and one["accuracy"] == 0.5


def test_plugins_define_no_private_metrics_or_calibration():
    """One roc_metrics and one Platt implementation: no built-in plugin defines its own."""
    import ast
    from pathlib import Path

    import forensics_plugins

    root = Path(next(iter(forensics_plugins.__path__)))
    banned = {"roc_metrics", "fit_platt", "apply_platt"}
    found = []
    for f in root.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name in banned:
                found.append(f"{f.relative_to(root)}:{node.name}")
    assert found == [], found


def test_eer_is_consistent_with_auc():
    from forensics.metrics import equal_error_rate

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    for shift in (-0.4, 0.0, 0.4):
        p = y * shift + rng.random(400)
        m = roc_metrics(y, p, ci_resamples=200)
        assert (m["auc"] - 0.5) * (0.5 - m["eer"]) >= -0.02, m  # a better-than-chance ranking has EER < 0.5
        lo, hi = m["auc_ci95"]
        assert lo <= m["auc"] <= hi
    assert equal_error_rate(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))[0] == 0.0


def test_forgery_set_source_and_per_kind_evaluations(tmp_path):
    from forensics.api import forgery_set_evaluations, forgery_set_source

    root = tmp_path / "sets" / "casia"
    root.mkdir(parents=True)
    assert forgery_set_source(root) == "casia"
    (tmp_path / "sets" / "MANIFEST.csv").write_text("set,repo,commit,label,relpath\ncasia,owner/repo,0123456789abcdef,"
                                                    "fake:splice,casia/fake/a.png\n")
    assert forgery_set_source(root) == "owner/repo @ 0123456789ab"
    y = [0, 0, 0, 1, 1, 1, 1]
    p = [0.1, 0.2, 0.6, 0.9, 0.8, 0.3, 0.7]
    kinds = ["authentic"] * 3 + ["splice", "splice", "copy-move", "copy-move"]
    ev = forgery_set_evaluations("casia", y, p, kinds, "test", echo=lambda m: None)
    assert set(ev) == {"real set casia: all tampered vs authentic", "real set casia: splice vs authentic",
                       "real set casia: copy-move vs authentic"}
    assert ev["real set casia: splice vs authentic"]["auc"] == 1.0
    assert ev["real set casia: copy-move vs authentic"]["n_test_positive"] == 2
    assert ev["real set casia: all tampered vs authentic"]["kind"] == "cross-source (real)"


def test_fusion_card_names_each_validation_set_from_its_manifest(tmp_path):
    from forensics.evaluate import _validation_data_row

    sets = tmp_path / "val"
    (sets / "news").mkdir(parents=True)
    (sets / "other").mkdir()
    info = {"layout": "folders", "files": 10, "manipulated": 5}
    assert "source" not in _validation_data_row({**info, "folder": str(sets / "news")})  # no manifest: name only
    (sets / "MANIFEST.csv").write_text("set,repo,commit,paths,licence,how_label_known\n"
                                       "news,owner/photos,0123456789abcdef,data/*.jpg,MIT,generated splices\n")
    row = _validation_data_row({**info, "folder": str(sets / "news")})
    assert row["source"] == "owner/photos @ 0123456789ab, data/*.jpg" and row["licence"] == "MIT"
    assert row["label"] == "folders layout (5 manipulated); generated splices" and row["count"] == 10
    assert "source" not in _validation_data_row({**info, "folder": str(sets / "other")})  # another set's row only
