"""Outputs: manifest, verify, determinism, case.toml in the header, --json."""

from __future__ import annotations

import json

from conftest import jpeg_bytes, load_findings, png_bytes


def _case(make_case, photo):
    return make_case({
        "case.toml": b'[case]\ncase_id = "C-42"\nexaminer = "Toml Examiner"\ndescription = "desc <b>bold</b>"\n',
        "a.jpg": jpeg_bytes(photo),
        "sub/b.png": png_bytes(photo),
    })


def test_outputs_manifest_and_verify(make_case, photo, run_cli, tmp_path):
    root = _case(make_case, photo)
    out = tmp_path / "out"
    assert run_cli("analyze", root, "-o", out).exit_code == 0
    names = {p.name for p in out.iterdir()}
    assert {"report.html", "findings.json", "custody.log", "manifest.sha256"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    res = run_cli("verify", out, "--case", root)
    assert res.exit_code == 0 and "verification passed" in res.output

    # tamper with an output
    report = out / "report.html"
    report.write_text(report.read_text(encoding="utf-8").replace("C-42", "C-43"), encoding="utf-8")
    res = run_cli("verify", out)
    assert res.exit_code == 1 and "report.html: MODIFIED" in res.output


def test_verify_detects_changed_and_new_evidence(make_case, photo, run_cli, tmp_path):
    root = _case(make_case, photo)
    out = tmp_path / "out"
    run_cli("analyze", root, "-o", out)
    (root / "a.jpg").write_bytes(jpeg_bytes(photo, 50))
    (root / "new.jpg").write_bytes(b"new")
    res = run_cli("verify", out, "--case", root)
    assert res.exit_code == 1
    assert "a.jpg: CHANGED" in res.output and "new.jpg: NEW file" in res.output


def test_case_toml_in_header_and_cli_override(make_case, photo, run_cli, tmp_path):
    root = _case(make_case, photo)
    out = tmp_path / "out"
    run_cli("analyze", root, "-o", out, "--examiner", "CLI Examiner")
    doc = load_findings(out)
    assert doc["case"]["case_id"] == "C-42" and doc["case"]["examiner"] == "CLI Examiner"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "CLI Examiner" in html and "C-42" in html
    assert "desc &lt;b&gt;bold&lt;/b&gt;" in html
    custody = (out / "custody.log").read_text(encoding="utf-8")
    assert "RUN_START" in custody and "CLI Examiner" in custody and doc["items"][0]["hashes"]["sha256"] in custody
    events = [json.loads(line) for line in custody.splitlines()]  # JSON Lines (forensics.custody/2)
    start = next(e for e in events if e["event"] == "RUN_START")
    assert start["time"].endswith("Z")  # UTC timestamps


def test_findings_are_deterministic(make_case, photo, run_cli, tmp_path):
    root = _case(make_case, photo)
    docs = []
    for k in range(2):
        out = tmp_path / f"out{k}"
        assert run_cli("analyze", root, "-o", out).exit_code == 0
        doc = load_findings(out)
        doc.pop("run")  # run id and timestamps
        docs.append(json.dumps(doc, sort_keys=True))
        art = sorted(p.read_bytes() for p in (out / "artifacts").glob("*.png")) if (out / "artifacts").exists() else []
        docs.append(art)
    assert docs[0] == docs[2]
    assert docs[1] == docs[3]


def test_json_flag_prints_findings(make_case, photo, run_cli, tmp_path):
    root = _case(make_case, photo)
    res = run_cli("analyze", root, "-o", tmp_path / "out", "--json")
    assert res.exit_code == 0
    start = res.stdout.index("{")
    doc = json.loads(res.stdout[start: res.stdout.rindex("}") + 1])
    assert doc["schema"] == "forensics.findings/1" and len(doc["items"]) == 2
