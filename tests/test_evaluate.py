"""`forensics evaluate` and `forensics train fusion` on a small generated real/ fake/ set."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import jpeg_bytes


@pytest.fixture
def labelled(tmp_path, photo):
    import skimage.data

    from forensics.api import decode_image as decode
    from forensics.api import make_splice

    root = tmp_path / "data"
    (root / "real").mkdir(parents=True)
    (root / "fake").mkdir()
    rng = np.random.default_rng(0)
    donor = skimage.data.chelsea()
    for i in range(6):
        host = np.roll(photo, 20 * i, axis=1)
        camera = decode(jpeg_bytes(host, 70))  # last save at a higher quality: aligned DQ visible, jpeg_dq votes
        (root / "real" / f"r{i}.jpg").write_bytes(jpeg_bytes(camera, 90))
        spliced, _ = make_splice(camera, donor, rng, q1=70, q2=60)
        (root / "fake" / f"f{i}.jpg").write_bytes(jpeg_bytes(spliced, 90))
    (root / "fake" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root


def test_evaluate_prints_metrics_and_writes_results(labelled, tmp_path, run_cli):
    out = tmp_path / "eval"
    r = run_cli("evaluate", "--data", labelled, "-d", "jpeg_dq", "-o", out)
    assert r.exit_code == 0, r.output
    assert "AUC" in r.output and "FUSED" in r.output and "ECE" in r.output
    res = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert len(res["rows"]) == 13
    s = res["summary"]
    ela = s["detectors"]["jpeg_dq"]  # a still-image detector that votes (ELA's interval includes chance)
    assert ela["ran"] == 12 and s["undecodable"] == ["broken.jpg"] and "could not be decoded" in r.output
    assert 0 <= ela["auc"] <= 1 and set(ela["confusion"]) == {"tn", "fp", "fn", "tp"}
    assert s["fused"]["decided"] >= 1 and "three_way" in s["fused"]
    assert (out / "roc.png").read_bytes().startswith(b"\x89PNG")
    # the fusion model trains from the written results, with a measured (cross-validated) error rate
    model_dir = tmp_path / "models" / "fusion"
    r = run_cli("train", "fusion", "--results", out / "results.json", "--folds", "3", "--out", model_dir)
    assert r.exit_code == 0, r.output
    card = json.loads((model_dir / "card.json").read_text(encoding="utf-8"))
    assert card["metrics"]["n_test"] == 12 and card["training"]["files"] == 12
    assert card["detectors"][0]["name"] == "jpeg_dq"


def test_evaluate_errors_are_one_line(tmp_path, run_cli):
    (tmp_path / "nothing").mkdir()
    r = run_cli("evaluate", "--data", tmp_path / "nothing")
    assert r.exit_code == 2 and "not a recognised labelled data set" in r.output
    r = run_cli("evaluate", "--data", tmp_path / "missing")
    assert r.exit_code == 2 and "not found" in r.output


@pytest.mark.slow
def test_group_by_source_and_reliability_diagram(labelled, tmp_path, run_cli):
    import shutil

    second = tmp_path / "data2"
    shutil.copytree(labelled, second)
    (second / "fake" / "broken.jpg").unlink()
    out = tmp_path / "eval"
    r = run_cli("evaluate", "--data", labelled, "--data", second, "-d", "jpeg_dq", "--group-by", "source", "-o", out)
    assert r.exit_code == 0, r.output
    s = json.loads((out / "results.json").read_text(encoding="utf-8"))["summary"]
    assert set(s["by_source"]) == {"data", "data2"}
    assert s["by_source"]["data2"]["files"] == 12
    assert "source data2:" in r.output
    assert (out / "reliability.png").read_bytes().startswith(b"\x89PNG")
    assert run_cli("evaluate", "--data", labelled, "--group-by", "colour").exit_code == 2
