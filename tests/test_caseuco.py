"""CASE/UCO export: the graph names every evidence file with its hashes and validates against the ontology."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import jpeg_bytes


@pytest.mark.slow
def test_export_validates_offline_and_carries_hashes(tmp_path, make_case, photo, run_cli):
    case = make_case({"a.jpg": jpeg_bytes(photo), "notes.txt": b"hello"})
    out = tmp_path / "report"
    assert run_cli("analyze", case, "-o", out, "-d", "ela").exit_code == 0
    target = tmp_path / "case.jsonld"
    res = run_cli("export", "case-uco", out, "-o", target)
    assert res.exit_code == 0, res.output
    text = target.read_text(encoding="utf-8")
    doc = json.loads((out / "findings.json").read_text())
    for it in doc["items"]:
        if it["hashes"]:
            assert it["hashes"]["sha256"] in text.lower() and it["hashes"]["md5"] in text.lower()
    assert "InvestigativeAction" in text and "AnalyticTool" in text and doc["tool"]["version"] in text
    # deterministic: the same report exports to the same bytes
    again = tmp_path / "again.jsonld"
    assert run_cli("export", "case-uco", out, "-o", again).exit_code == 0
    assert again.read_bytes() == target.read_bytes()
    validate = str(Path(sys.executable).with_name("case_validate"))  # console script of case-utils, same venv
    v = subprocess.run([validate, str(target)], capture_output=True, text=True, timeout=300)
    assert v.returncode == 0 and "Conforms: True" in v.stdout, v.stdout[-2000:] + v.stderr[-2000:]


def test_export_refuses_a_folder_that_is_not_a_report(tmp_path, run_cli):
    res = run_cli("export", "case-uco", tmp_path, "-o", tmp_path / "x.jsonld")
    assert res.exit_code != 0 and "not a report folder" in res.output
