"""Plugin host: entry points, isolation of broken plugins, failure findings."""

from __future__ import annotations

import plugins_for_tests as pft
from conftest import item_by_path, jpeg_bytes

from forensics.engine import analyze_case
from forensics.plugins import load_plugins


def test_builtin_ela_is_loaded_through_the_entry_point():
    ps = load_plugins()
    ela = [d for d in ps.detectors if d.detector.name == "ela"]
    assert ela and ela[0].plugin == "ela" and "forensics_plugins.ela" in ela[0].source


def test_broken_and_duplicate_plugins_are_reported_not_fatal():
    ps = load_plugins(extra=[pft.crashing, pft.broken_hook, pft.duplicate, "no.such.module"])
    problems = {p.plugin: p.message for p in ps.problems}
    assert "plugin cannot initialise" in problems["broken_plugin"]
    assert "already taken" in problems["duplicate_plugin"]
    assert "ModuleNotFoundError" in problems["no.such.module"]
    names = {d.detector.name for d in ps.detectors}
    assert {"ela", "crashing", "wrong_return"} <= names


def test_crashing_detector_becomes_failed_finding_and_case_continues(make_case, photo):
    root = make_case({"a.jpg": jpeg_bytes(photo), "b.jpg": jpeg_bytes(photo, 70)})
    res = analyze_case(root, extra_plugins=[pft.crashing])
    for path in ("a.jpg", "b.jpg"):
        it = item_by_path(res.document, path)
        by = {f["detector"]: f for f in it["findings"]}
        assert by["crashing"]["status"] == "failed"
        assert "plugin 'crashing_plugin' raised ValueError: simulated bug" in by["crashing"]["reason"]
        assert by["wrong_return"]["status"] == "failed" and "not a Finding" in by["wrong_return"]["reason"]
        assert by["crashing"]["probability"] is None
        assert "crashing" in {m["detector"] for m in it["verdict"]["missing"]}


def test_tampering_plugin_is_caught_by_rehash(make_case, photo, run_cli, tmp_path):
    root = make_case({"a.jpg": jpeg_bytes(photo)})
    out = tmp_path / "out"
    res = run_cli("analyze", root, "-o", out, "--plugin", "plugins_for_tests", "-d", "ela")
    assert res.exit_code == 0
    res = analyze_case(root, extra_plugins=[pft.tamperer], detectors=["tamperer"])
    it = item_by_path(res.document, "a.jpg")
    assert it["integrity"] == "CHANGED"
    assert any("INTEGRITY FAILURE" in m for m in it["messages"])
    assert res.document["summary"]["integrity_failures"] == [it["id"]]


def test_unknown_detector_name_is_an_error(make_case, run_cli, tmp_path):
    root = make_case({"a.jpg": b"x"})
    res = run_cli("analyze", root, "-o", tmp_path / "o", "-d", "nonexistent")
    assert res.exit_code != 0 and "unknown detector" in res.output


def test_plugins_command_lists_detectors(run_cli):
    res = run_cli("plugins")
    assert res.exit_code == 0
    from forensics_plugins.ela import ELADetector

    assert f"ela {ELADetector.version}" in res.output and "model:" in res.output


def test_non_finite_plugin_numbers_give_strict_json(make_case, photo):
    import json

    from forensics.report import findings_json

    root = make_case({"a.jpg": jpeg_bytes(photo)})
    res = analyze_case(root, extra_plugins=[pft.nonfinite], detectors=["nonfinite"])

    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    doc = json.loads(findings_json(res.document), parse_constant=refuse)
    f = next(f for f in item_by_path(doc, "a.jpg")["findings"] if f["detector"] == "nonfinite")
    assert f["details"] == {"nan": "NaN", "ratios": ["Infinity", "-Infinity", 0.5]}
