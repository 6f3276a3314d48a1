"""Fusion: the trained stacking rule with missing detectors, the fallback, the registry, the report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from forensics import fusion, fusion_train
from forensics.detector import Finding, Status


def _f(name, p=None, status=None, auc=None, version="1"):
    st = status or (Status.RAN if p is not None else Status.NOT_APPLICABLE)
    return Finding(detector=name, version=version, status=st, probability=p,
                   error_rate={"auc": auc} if auc is not None else None)


def _synthetic(n=400, seed=0):
    """Detector 'a' is informative and always runs; 'b' is informative but runs on half; 'c' is noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    a = 1 / (1 + np.exp(-(2.0 * (y - 0.5) * 2 + rng.normal(0, 1.5, n))))
    b = 1 / (1 + np.exp(-(2.0 * (y - 0.5) * 3 + rng.normal(0, 1.0, n))))
    b[rng.random(n) < 0.5] = np.nan
    c = rng.random(n)
    return np.stack([a, b, c], 1), y


def test_stacker_learns_weights_and_handles_missing():
    P, y = _synthetic()
    model = fusion.FusionModel(fusion_train.fit_stacker(P, y, ["a", "b", "c"]))
    w = {d["name"]: d["weight"] for d in model.detectors}
    assert w["a"] > 0.3 and w["b"] > 0.3

    def swing(name):  # how far the fused log-odds can move as this detector goes from 0.05 to 0.95
        d = next(d for d in model.detectors if d["name"] == name)
        return abs(d["weight"] * (fusion._logit(fusion.calibrate(d["calibration"], 0.95))
                                  - fusion._logit(fusion.calibrate(d["calibration"], 0.05))))

    assert swing("a") > 2 and swing("b") > 2 and swing("c") < 0.5  # noise: calibrated flat, ~no say
    # a missing detector contributes exactly nothing: not the same as an imputed 0.5
    p_missing = model.probability({"a": 0.8, "b": None, "c": 0.5})
    p_half = model.probability({"a": 0.8, "b": 0.5, "c": 0.5})
    assert p_missing != pytest.approx(p_half, abs=1e-6)
    assert model.probability({"a": 0.9, "b": 0.9, "c": 0.5}) > model.probability({"a": 0.9, "b": None, "c": 0.5}) > 0.5
    assert model.probability({"a": 0.1, "b": None, "c": 0.5}) < 0.5


def test_stacker_is_monotone_an_inverted_detector_gets_no_say():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    t = (X[:, 0] - 0.8 * X[:, 1] + rng.normal(size=300) > 0).astype(int)
    sw = rng.uniform(0.5, 1.5, 300)
    ref = LogisticRegression(C=1.0, max_iter=5000, tol=1e-10).fit(X, t, sample_weight=sw)
    coef, b = fusion_train.fit_monotone_logistic(X, t, sw, 1.0, 0)  # unconstrained: scikit-learn's solution
    assert np.allclose(coef, ref.coef_[0], atol=1e-4) and b == pytest.approx(ref.intercept_[0], abs=1e-4)
    coef, _ = fusion_train.fit_monotone_logistic(X, t, sw, 1.0, 2)
    assert coef[0] > 0.5 and coef[1] == 0.0  # the column that points the other way is held at zero

    P, y = _synthetic()
    P[:, 2] = 1 - P[:, 0]  # 'c' says the opposite of 'a': it must not be turned round into evidence
    model = fusion.FusionModel(fusion_train.fit_stacker(P, y, ["a", "b", "c"]))
    c = next(d for d in model.detectors if d["name"] == "c")
    assert c["calibration"]["method"] == "constant" and c["weight"] >= 0
    assert all(d["weight"] >= 0 for d in model.detectors)
    lo = model.probability({"a": 0.7, "b": None, "c": 0.2})
    hi = model.probability({"a": 0.7, "b": None, "c": 0.9})
    assert hi >= lo  # a stronger 'manipulated' never lowers the fused probability


def test_fused_verdict_lists_contributions_and_missing():
    P, y = _synthetic()
    model = fusion.FusionModel(fusion_train.fit_stacker(P, y, ["a", "b", "c"]), ref={"name": "fusion"},
                               error_rate={"auc": 0.9, "eer": 0.1, "n_test": 400})
    findings = [_f("a", 0.9), _f("b", status=Status.NOT_APPLICABLE), _f("c", 0.4)]
    v = fusion.fuse(findings, model)
    assert v["method"] == fusion.STACKED_METHOD and v["rule"]["used"] == "trained"
    assert [c["detector"] for c in v["contributions"]] == ["a", "c"]
    assert [m["detector"] for m in v["missing"]] == ["b"] and v["missing"][0]["contribution_logit"] == 0.0
    total = v["intercept_logit"] + sum(c["contribution_logit"] for c in v["contributions"])
    assert v["probability"] == pytest.approx(1 / (1 + np.exp(-total)), abs=1e-5)
    assert v["label"] == fusion.label_for(v["probability"])
    assert v["error_rate"]["auc"] == 0.9 and v["thresholds"]["likely_manipulated_above"] == fusion.HIGH
    # nothing ran: no decision (the intercept alone is not evidence)
    none = fusion.fuse([_f("a", status=Status.FAILED), _f("b"), _f("c")], model)
    assert none["probability"] is None and none["label"] == "no decision" and none["rule"]["used"] == "trained"


def test_prior_neutral_despite_imbalanced_validation_data():
    """Uninformative detectors on a 90 %-fake validation set must not push verdicts towards 'fake'."""
    rng = np.random.default_rng(1)
    n = 600
    y = (rng.random(n) < 0.9).astype(int)
    P = rng.random((n, 2))
    P[rng.random(n) < 0.5, 1] = np.nan
    model = fusion.FusionModel(fusion_train.fit_stacker(P, y, ["u", "v"]))
    for probs in ({"u": 0.5, "v": None}, {"u": 0.5, "v": 0.5}):
        assert model.probability(probs) == pytest.approx(0.5, abs=0.08)


def test_isotonic_calibration_is_monotone():
    P, y = _synthetic()
    cal = fusion_train.fit_calibration(P[:, 0], y, "isotonic")
    xs = np.linspace(0, 1, 21)
    qs = [fusion.calibrate(cal, x) for x in xs]
    assert all(b >= a - 1e-12 for a, b in zip(qs, qs[1:]))
    platt = fusion_train.fit_calibration(P[:, 0], y, "platt")
    assert platt["a"] > 0


def test_fallback_when_detector_set_or_version_differs():
    P, y = _synthetic()
    data = fusion_train.fit_stacker(P, y, ["a", "b", "c"])
    for d in data["detectors"]:
        d["version"] = "1"
    model = fusion.FusionModel(data)
    extra = [_f("a", 0.9, auc=0.8), _f("b", 0.9, auc=0.9), _f("c", 0.5), _f("new", 0.9, auc=0.7)]
    v = fusion.fuse(extra, model)
    assert v["method"] == fusion.FALLBACK_METHOD and v["rule"]["used"] == "fallback"
    assert "new" in v["rule"]["why"]
    v = fusion.fuse([_f("a", 0.9, auc=0.8), _f("b", 0.9, auc=0.9)], model)
    assert v["rule"]["used"] == "fallback" and "c" in v["rule"]["why"]
    v = fusion.fuse([_f("a", 0.9, auc=0.8, version="2"), _f("b", 0.9), _f("c", 0.5)], model)
    assert v["rule"]["used"] == "fallback" and "version 2" in v["rule"]["why"]
    assert fusion.fuse([_f("a", 0.9), _f("b", 0.9), _f("c", 0.5)], model)["rule"]["used"] == "trained"


def test_version_of_a_detector_that_never_ran_in_validation_matters_only_when_it_runs():
    P, y = _synthetic()
    data = fusion_train.fit_stacker(P, y, ["a", "b", "c"])
    for d in data["detectors"]:
        d["version"] = "1"
    data["detectors"][2]["n_ran"] = 0  # c: e.g. a video-only detector on an image validation set
    model = fusion.FusionModel(data)
    idle = _f("c", status=Status.NOT_APPLICABLE, version="2")
    assert fusion.fuse([_f("a", 0.9), _f("b", 0.9), idle], model)["rule"]["used"] == "trained"
    ran = fusion.fuse([_f("a", 0.9), _f("b", 0.9), _f("c", 0.5, version="2")], model)
    assert ran["rule"]["used"] == "fallback" and "version 2" in ran["rule"]["why"]
    # a detector that did run on the validation data is checked even where it did not run here
    v = fusion.fuse([_f("a", status=Status.NOT_APPLICABLE, version="2"), _f("b", 0.9), idle], model)
    assert v["rule"]["used"] == "fallback" and "version 2" in v["rule"]["why"]


def test_fallback_rule_unchanged():
    v = fusion.fuse([_f("x", 0.9, auc=0.9), _f("y", 0.2, auc=0.5), _f("z", status=Status.FAILED)], None)
    assert v["method"] == fusion.FALLBACK_METHOD
    # y has AUC 0.5: weight 0; the verdict is x's probability
    assert v["probability"] == pytest.approx(0.9, abs=1e-6)
    assert [m["detector"] for m in v["missing"]] == ["z"]
    assert fusion.fuse([_f("x", 0.9)], None)["label"] == "no decision"


def test_cross_validated_and_decision_rates():
    P, y = _synthetic(300)
    oof = fusion_train.cross_validated(P, y, ["a", "b", "c"], folds=5)
    assert np.isfinite(oof).all()
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, oof) > 0.8
    d = fusion_train.decision_error_rates(np.array([0, 1, 1, 0]), np.array([0.1, 0.2, 0.9, 0.5]))
    assert d == {"called_authentic": 2, "called_authentic_wrong": 1, "called_manipulated": 1,
                 "called_manipulated_wrong": 0, "inconclusive": 1, "decided_error_rate": round(1 / 3, 4)}


def _rows(P, y, names):
    rows = []
    for i in range(len(y)):
        rows.append({"file": f"f{i}.jpg", "label": int(y[i]), "kind": "image" if np.isnan(P[i, 1]) else "video",
                     "sha256": f"{i:064x}",
                     "findings": [{"detector": nm, "version": "1", "status": "not_applicable" if np.isnan(P[i, j]) else "ran",
                                   "probability": None if np.isnan(P[i, j]) else float(P[i, j]),
                                   "error_rate": {"auc": 0.8}, "model_sha256": None}
                                  for j, nm in enumerate(names)]})
    return rows


def test_train_fusion_writes_hash_checked_model_used_by_fuse(tmp_path, monkeypatch):
    from forensics.evaluate import train_fusion
    from forensics.models import load_card

    P, y = _synthetic(200)
    names = ["a", "b", "c"]
    res = {"detectors": [{"name": n, "version": "1"} for n in names], "rows": _rows(P, y, names),
           "data": [{"folder": "synthetic", "layout": "folders", "files": 200, "manipulated": int(y.sum())}]}
    out = tmp_path / "models" / "fusion"
    card = train_fusion([res], out, folds=3, command="test", echo=lambda m: None)
    assert card["metrics"]["auc"] > 0.8 and "three_way" in card["metrics"]
    assert (out / "fusion.json").is_file() and (out / "MODEL_CARD.md").is_file()
    monkeypatch.setenv("FORENSICS_MODELS_PATH", str(tmp_path / "models"))
    assert load_card("fusion").error_rate()["auc"] == card["metrics"]["auc"]
    v = fusion.fuse([_f("a", 0.9), _f("b"), _f("c", 0.3)])
    assert v["rule"]["used"] == "trained" and v["rule"]["model"]["name"] == "fusion"
    assert v["error_rate"]["three_way"]["inconclusive"] >= 0
    desc = fusion.describe()
    assert desc["method"] == fusion.STACKED_METHOD and desc["detectors"] == names
    # altered model file: refused, the fallback is used and says why
    (out / "fusion.json").write_text((out / "fusion.json").read_text().replace('"intercept"', '"intercept" ', 1))
    v = fusion.fuse([_f("a", 0.9, auc=0.8), _f("b"), _f("c", 0.3)])
    assert v["rule"]["used"] == "fallback" and "SHA-256" in v["rule"]["why"]
    json.dumps(v)


def test_report_shows_rule_contributions_and_error_rates(tmp_path, monkeypatch, make_case, photo, run_cli):
    """End to end: a trained fusion model over one image detector (jpeg_dq), used by `analyze`, shown in the report."""
    from conftest import jpeg_bytes, load_findings

    from forensics.evaluate import train_fusion

    P, y = _synthetic(120)
    P = P[:, :1]
    res = {"detectors": [{"name": "jpeg_dq", "version": "1.0.0"}],
           "rows": _rows(np.hstack([P, P]), y, ["jpeg_dq", "jpeg_dq"])[:0],
           "data": []}
    rows = []
    for i in range(len(y)):
        rows.append({"file": f"{i}.jpg", "label": int(y[i]), "kind": "image", "sha256": f"{i:064x}",
                     "findings": [{"detector": "jpeg_dq", "version": "1.0.0", "status": "ran",
                                   "probability": float(P[i, 0]),
                                   "error_rate": {"auc": 0.7}, "model_sha256": None}]})
    res["rows"] = rows
    res["data"] = [{"folder": "synthetic", "layout": "folders", "files": len(rows), "manipulated": int(y.sum())}]
    train_fusion([res], tmp_path / "models" / "fusion", folds=3, command="test", echo=lambda m: None)
    monkeypatch.setenv("FORENSICS_MODELS_PATH", str(tmp_path / "models"))
    root = make_case({"a.jpg": jpeg_bytes(photo)})
    out = tmp_path / "out"
    assert run_cli("analyze", root, "-o", out, "-d", "jpeg_dq").exit_code == 0
    doc = load_findings(out)
    v = doc["items"][0]["verdict"]
    assert v["rule"]["used"] == "trained" and v["contributions"][0]["calibrated_probability"] is not None
    assert doc["fusion"]["error_rate"]["auc"] is not None
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "stacked-logistic/1" in html and "Calibrated P" in html and "Fused verdict: rule and measured error rate" in html


def test_out_of_fold_outputs_from_model_cards_replace_in_sample_ones(tmp_path, monkeypatch):
    from forensics.evaluate import substitute_out_of_fold
    from forensics.models import write_card

    d = tmp_path / "models" / "det"
    d.mkdir(parents=True)
    (d / "w.json").write_text("{}")
    write_card(d, {"name": "det", "files": {"weights": {"path": "w.json"}},
                   "out_of_fold": [{"video": "fake/a.mp4", "label": 1, "probability": 0.61},
                                   {"video": "real/b.mp4", "label": 0, "probability": 0.42},
                                   {"video": "real/c.mp4", "label": 1, "probability": 0.99}]}, "# card\n")
    monkeypatch.setenv("FORENSICS_MODELS_PATH", str(tmp_path / "models"))
    rows = [{"file": n, "label": lab, "findings": [{"detector": "det", "model_name": "det", "status": "ran",
                                                    "probability": 0.999}]}
            for n, lab in (("a.mp4", 1), ("b.mp4", 0), ("c.mp4", 0), ("z.mp4", 1))]
    assert substitute_out_of_fold(rows) == {"det": 2}
    got = [r["findings"][0]["probability"] for r in rows]
    assert got == [0.61, 0.42, 0.999, 0.999]  # c: label disagrees, z: not listed -> unchanged
    assert rows[0]["findings"][0]["probability_in_sample"] == 0.999


# ------------------------------------------------------------------------------ likelihood ratios (issue 15)
@pytest.mark.parametrize("lr, words, favours", [
    (1.0, "no support for either proposition", "neither"),
    (1.99, "no support for either proposition", "neither"),
    (2.0, "weak support", "manipulated"),
    (9.99, "weak support", "manipulated"),
    (10.0, "moderate support", "manipulated"),
    (100.0, "moderately strong support", "manipulated"),
    (999.0, "moderately strong support", "manipulated"),
    (1_000.0, "strong support", "manipulated"),
    (10_000.0, "very strong support", "manipulated"),
    (1_000_000.0, "extremely strong support", "manipulated"),
    (1 / 10.0, "moderate support", "authentic"),
    (1 / 2.5, "weak support", "authentic"),
])
def test_enfsi_verbal_scale_boundaries(lr, words, favours):
    text, fav = fusion.verbal_equivalent(lr)
    assert text.startswith(words) and fav == favours
    if favours != "neither":
        assert fusion.PROPOSITIONS[favours] in text


def test_likelihood_ratio_from_even_prior_probability_bounds_and_interval():
    r = fusion.likelihood_ratio(0.8)
    assert r["lr"] == pytest.approx(4.0) and r["ci95"] is None and "even prior" in r["prior_note"]
    # 11 authentic validation files cannot support an LR above 12
    b = fusion.validation_bounds(11, 30)
    capped = fusion.likelihood_ratio(0.999, b)
    assert capped["lr"] == pytest.approx(12.0) and capped["clipped_to_bounds"]
    with_samples = fusion.likelihood_ratio(0.8, None, samples=np.linspace(0.7, 0.9, 50))
    lo, hi = with_samples["ci95"]
    assert lo < 4.0 < hi
    with pytest.raises(ValueError):
        fusion.verbal_equivalent(0.0)


def test_trained_verdict_carries_lr_interval_and_every_field():
    rng = np.random.default_rng(3)
    n = 120
    y = rng.integers(0, 2, n)
    P = np.column_stack([np.clip(0.5 + 0.3 * (y - 0.5) + 0.2 * rng.standard_normal(n), 0.01, 0.99),
                         np.clip(0.5 + 0.1 * rng.standard_normal(n), 0.01, 0.99)])
    data = fusion_train.fit_stacker(P, y, ["a", "b"], bootstrap=40)
    assert len(data["bootstrap"]) >= 30 and data["validation_counts"]["authentic"] == int((1 - y).sum())
    model = fusion.FusionModel(data)
    findings = [Finding(detector="a", version="1", status=Status.RAN, probability=0.9),
                Finding(detector="b", version="1", status=Status.NOT_APPLICABLE, reason="no face")]
    v = model.fuse(findings)
    for key in ("probability", "label", "contributions", "missing", "likelihood_ratio", "caveat", "timeline",
                "intercept_logit", "probability_uncapped"):
        assert key in v
    lr = v["likelihood_ratio"]
    assert lr["ci95"] is not None and lr["ci95"][0] <= lr["lr"] <= lr["ci95"][1]
    assert v["missing"][0]["detector"] == "b" and v["contributions"][0]["share"] is None
    n_auth = data["validation_counts"]["authentic"]
    assert lr["lr"] <= n_auth + 1


def test_kind_calibration_is_fitted_only_with_enough_files():
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(1, 1, 40), rng.normal(-1, 1, 40)])
    y = np.array([1] * 40 + [0] * 40)
    kinds = np.array(["image"] * 70 + ["video"] * 10)
    cal = fusion_train.fit_kind_calibration(z, y, kinds)
    assert "image" in cal and "video" not in cal and cal["image"]["a"] > 0


def test_rule_selection_prefers_calibration_near_the_best_auc_and_simplicity():
    R, S, F = fusion.RECAL_METHOD, fusion.STACKED_METHOD, fusion.FALLBACK_METHOD
    pick, why = fusion_train.select_rule({S: {"auc": 0.80, "ece": 0.12}, R: {"auc": 0.79, "ece": 0.05},
                                          F: {"auc": 0.79, "ece": 0.13}})
    assert pick == R and "ECE 0.05" in why
    assert fusion_train.select_rule({S: {"auc": 0.90, "ece": 0.2}, R: {"auc": 0.80, "ece": 0.01},
                                     F: {"auc": 0.80, "ece": 0.01}})[0] == S
    assert fusion_train.select_rule({S: {"auc": 0.8, "ece": 0.1}, F: {"auc": 0.8, "ece": 0.1}})[0] == F  # tie
    assert fusion_train.select_rule({S: None, R: None, F: None})[0] == F


def _recal_model(selected=fusion.RECAL_METHOD):
    return fusion.FusionModel(
        {"selected": selected, "intercept": 0.0, "detectors": [
            {"name": "a", "version": "1", "calibration": {"method": "identity"}, "weight": 1.0, "presence": 0.0,
             "n_ran": 50}],
         "recalibration": {"image": {"method": "platt", "a": 0.5, "b": -0.2, "n": 100}},
         "validation_kinds": ["image"], "validation_counts": {"authentic": 50, "manipulated": 50},
         "selection": {"reason": "it measured best"}},
        ref={"name": "fusion"}, error_rate={"auc": 0.8, "ece": 0.04},
        fallback_error_rate={"auc": 0.79, "ece": 0.1, "detectors": ["a"]})


def test_recalibrated_fallback_maps_the_fallback_log_odds_per_kind():
    model = _recal_model()
    v = fusion.fuse([_f("a", 0.9, auc=0.8)], model, kind="image")
    plain = fusion.fuse_fallback([_f("a", 0.9, auc=0.8)])
    want = 1 / (1 + np.exp(-(0.5 * fusion._logit(plain["probability_uncapped"]) - 0.2)))
    assert v["method"] == fusion.RECAL_METHOD and v["rule"]["used"] == "trained"
    assert v["probability"] == pytest.approx(want, abs=1e-5) and v["error_rate"]["auc"] == 0.8
    assert v["likelihood_ratio"]["lr"] == pytest.approx(want / (1 - want), rel=1e-3)
    # a kind the validation data never held: plain fallback, and no fused error rate is claimed
    vv = fusion.fuse([_f("a", 0.9, auc=0.8)], model, kind="video")
    assert vv["method"] == fusion.FALLBACK_METHOD and vv["error_rate"] is None and "no videos" in vv["rule"]["why"]
    # another detector version: the plain fallback, without the validation figure measured for version 1
    vv = fusion.fuse([_f("a", 0.9, auc=0.8, version="2")], model, kind="image")
    assert vv["rule"]["used"] == "fallback" and vv["error_rate"] is None and "version 2" in vv["rule"]["why"]
    # a model that selected the fallback rule: fallback, with its measured figure, and the reason
    vf = fusion.fuse([_f("a", 0.9, auc=0.8)], _recal_model(fusion.FALLBACK_METHOD), kind="image")
    assert vf["method"] == fusion.FALLBACK_METHOD and vf["error_rate"]["auc"] == 0.79
    assert "selected the fallback rule" in vf["rule"]["why"]


def test_train_fusion_measures_every_rule_cross_source_and_installs_the_selected_one(tmp_path):
    from forensics.evaluate import train_fusion

    P, y = _synthetic(240, seed=3)
    names = ["a", "b", "c"]
    rows = _rows(P, y, names)
    for i, r in enumerate(rows):
        r["source"] = "s1" if i % 2 else "s2"
    res = {"detectors": [{"name": n, "version": "1"} for n in names], "rows": rows,
           "data": [{"folder": "synthetic", "layout": "folders", "files": 240, "manipulated": int(y.sum())}]}
    card = train_fusion([res], tmp_path / "fusion", folds=3, command="test", echo=lambda m: None, bootstrap=0)
    model = json.loads((tmp_path / "fusion" / "fusion.json").read_text())
    cands = model["selection"]["candidates"]
    assert set(cands) == set(fusion.RULES) and all(c and c["auc"] is not None for c in cands.values())
    assert model["selected"] in fusion.RULES and card["method"] == model["selected"]
    assert card["metrics"]["auc"] == cands[model["selected"]]["auc"]
    # every rule's figure carries the error rates of its three-way labels at the decision thresholds
    three = card["metrics"]["three_way"]
    assert three["called_authentic"] + three["called_manipulated"] + three["inconclusive"] == card["metrics"]["n_test"]
    assert cands[fusion.RECAL_METHOD]["kind"] == "cross-source" and model["validation_kinds"] == ["image", "video"]
    assert "Rule selection" in (tmp_path / "fusion" / "MODEL_CARD.md").read_text()


def test_train_fusion_merges_a_re_evaluation_of_changed_detectors(tmp_path):
    from forensics.evaluate import train_fusion

    P, y = _synthetic(120, seed=4)
    names = ["a", "b", "c"]
    first = {"detectors": [{"name": n, "version": "1"} for n in names], "rows": _rows(P, y, names),
             "data": [{"folder": "synthetic", "layout": "folders", "files": 120, "manipulated": int(y.sum())}]}
    again = [{**r, "findings": [{**f, "version": "2"} for f in r["findings"] if f["detector"] == "c"]}
             for r in _rows(P, y, names)]
    second = {"detectors": [{"name": "c", "version": "2"}], "rows": again, "data": first["data"]}
    train_fusion([first, second], tmp_path / "fusion", folds=3, command="test", echo=lambda m: None, bootstrap=0)
    model = json.loads((tmp_path / "fusion" / "fusion.json").read_text())
    assert {d["name"]: d["version"] for d in model["detectors"]} == {"a": "1", "b": "1", "c": "2"}
    assert model["validation_counts"]["authentic"] + model["validation_counts"]["manipulated"] == 120


def _two_families(n=300, seed=5):
    """Two detectors of two kinds of manipulation: half the fakes are of kind A (detector 'a' fires, 'b' calls them
    clearly *not* its kind), half of kind B (the reverse); authentic files score middling low on both."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(int)
    fam = (np.arange(n) // 2) % 2
    hi, lo = rng.normal(2.5, 0.8, n), rng.normal(-2.5, 0.5, n)
    za = np.where(y == 0, rng.normal(-0.8, 0.6, n), np.where(fam == 0, hi, lo))
    zb = np.where(y == 0, rng.normal(-0.8, 0.6, n), np.where(fam == 1, hi, lo))
    return 1 / (1 + np.exp(-np.stack([za, zb], 1))), y


def test_positive_evidence_stacker_ignores_evidence_against_its_own_kind_only():
    P, y = _two_families()
    signed = fusion.FusionModel(fusion_train.fit_stacker(P, y, ["a", "b"]))
    pos = fusion.FusionModel(fusion_train.fit_stacker(P, y, ["a", "b"], positive=True))
    assert pos.data["method"] == fusion.POSITIVE_METHOD and pos.positive and not signed.positive
    assert all(d["weight"] >= 0 for d in pos.detectors)
    from sklearn.metrics import roc_auc_score

    def auc(m):
        return roc_auc_score(y, [m.probability({"a": p[0], "b": p[1]}) for p in P])

    assert auc(pos) > auc(signed) + 0.05  # a fake of one kind is not cancelled by the other detector's "not mine"
    # below its calibrated even odds a detector adds nothing: 'b' at any low value leaves the verdict unchanged
    qa = pos.probability({"a": 0.95, "b": 0.01})
    lo = [v for v in np.linspace(0.001, 0.999, 400) if calibrate_q(pos, "b", v) <= 0.5]
    assert lo and all(abs(pos.probability({"a": 0.95, "b": v}) - qa) < 1e-12 for v in lo)
    assert pos.probability({"a": 0.95, "b": 0.999}) >= qa  # and above it, never less (monotone)
    v = pos.fuse([Finding(detector="a", version="1", status=Status.RAN, probability=0.95),
                  Finding(detector="b", version="1", status=Status.RAN, probability=0.01)], kind="image")
    assert v["method"] == fusion.POSITIVE_METHOD and v["rule"]["method"] == fusion.POSITIVE_METHOD


def calibrate_q(model, name, p):
    d = next(d for d in model.detectors if d["name"] == name)
    return fusion.calibrate(d["calibration"], p)


def test_train_fusion_measures_both_stackers_and_installs_the_positive_one_where_it_is_better(tmp_path):
    from forensics.evaluate import train_fusion

    P, y = _two_families(360, seed=6)
    names = ["a", "b"]
    rows = _rows(np.column_stack([P[:, 0], np.full(len(y), np.nan), P[:, 1]]), y, ["a", "_", "b"])
    for i, r in enumerate(rows):
        r["kind"] = "image"
        r["source"] = f"s{i % 3}"
        r["findings"] = [f for f in r["findings"] if f["detector"] != "_"]
    res = {"detectors": [{"name": n, "version": "1"} for n in names], "rows": rows,
           "data": [{"folder": "two", "layout": "folders", "files": len(y), "manipulated": int(y.sum())}]}
    train_fusion([res], tmp_path / "fusion", folds=3, command="test", echo=lambda m: None, bootstrap=0)
    model = json.loads((tmp_path / "fusion" / "fusion.json").read_text())
    cands = model["selection"]["candidates"]
    assert cands[fusion.POSITIVE_METHOD]["auc"] > cands[fusion.STACKED_METHOD]["auc"]
    assert model["method"] == fusion.POSITIVE_METHOD
    if model["selected"] in fusion.STACKED_METHODS:
        assert model["selected"] == fusion.POSITIVE_METHOD
        v = fusion.fuse([Finding(detector="a", version="1", status=Status.RAN, probability=0.9),
                         Finding(detector="b", version="1", status=Status.RAN, probability=0.05)],
                        model=fusion.FusionModel(model), kind="image")
        assert v["method"] == fusion.POSITIVE_METHOD


def test_leave_one_source_out_measures_the_verdicts_as_reported_kind_map_and_cap_included():
    """The cross-source figures come from the whole installed model refitted without the source: the stacker, its
    per-kind map of fused log-odds and the validation-size cap, i.e. the probability ``fuse`` states."""
    from forensics.evaluate import leave_one_source_out

    P, y = _synthetic(300, seed=5)
    names = ["a", "b", "c"]
    kinds = np.array(["image"] * 300)
    sources = np.array(["s1", "s2", "s3"])[np.arange(300) % 3]
    data, oof = fusion_train.fit_model(P, y, names, kinds, folds=3)
    assert "image" in data["kind_calibration"] and len(oof) == 300 and not np.isnan(oof).any()
    model = fusion.FusionModel(data)
    for i in range(5):
        probs = {nm: (None if np.isnan(P[i, j]) else float(P[i, j])) for j, nm in enumerate(names)}
        findings = [_f(nm, probs[nm]) for nm in names]
        stated = fusion.fuse(findings, model, kind="image")["probability"]
        assert model.verdict_probability(probs, "image") == pytest.approx(stated, abs=1e-6)
        # the map changes the probability: without it the stacker's plain sigmoid would be measured instead
        assert model.verdict_probability(probs, "image") != pytest.approx(model.probability(probs), abs=1e-4)
    assert model.verdict_probability({"a": None, "b": None, "c": None}, "image") is None

    loso = leave_one_source_out(P, y, names, sources, folds=3, kinds=kinds)
    assert set(loso["held_out"]) == {"s1", "s2", "s3"}
    # the held-out figure for s1 is what the model refitted on s2 + s3 states for s1's files
    train = sources != "s1"
    fm = fusion.FusionModel(fusion_train.fit_model(P[train], y[train], names, kinds[train], folds=3)[0])
    test = np.flatnonzero(~train)
    p = np.array([fm.verdict_probability({nm: (None if np.isnan(P[i, j]) else float(P[i, j]))
                                          for j, nm in enumerate(names)}, "image") for i in test])
    from forensics.metrics import roc_metrics

    assert loso["held_out"]["s1"]["ece"] == roc_metrics(y[test], p)["ece"]
    assert loso["pooled"]["n_test"] == 300
