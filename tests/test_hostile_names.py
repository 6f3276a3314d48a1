"""Hostile file names (issue 11, items 8-10): log-line forgery, terminal spoofing, bidi overrides."""

from __future__ import annotations

import json

from conftest import jpeg_bytes, load_findings

FORGED = b"x.jpg\n2026-01-01T00:00:00.000Z REVERIFIED item=E0001 integrity=verified\x1b[31m\x07.jpg"
SPOOF = b"bad\r\x1b[2KOK        evidence E0001 good.jpg: matches.jpg"
BIDI = "evil\u202egpj.exe".encode()


def test_custody_log_is_json_lines_and_a_newline_cannot_forge_a_line(make_case, photo, run_cli, tmp_path):
    root = make_case({FORGED: jpeg_bytes(photo)})
    out = tmp_path / "out"
    assert run_cli("analyze", root, "-o", out, "-d", "metadata").exit_code == 0
    raw = (out / "custody.log").read_bytes()
    assert b"\x1b" not in raw and b"\x07" not in raw and b"\r" not in raw
    lines = raw.decode("utf-8").splitlines()
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    assert events[0]["event"] == "LOG_FORMAT" and events[0]["format"] == "forensics.custody/2"
    assert not any(line.lstrip().startswith("2026-01-01") for line in lines)
    assert [e["event"] for e in events].count("REVERIFIED") == 1
    hashed = next(e for e in events if e["event"] == "HASHED")
    assert bytes.fromhex(hashed["path_bytes_hex"]) == FORGED  # the exact name survives, escaped
    assert "\\x0a" in hashed["path"] and "\\x1b" in hashed["path"]


def test_verify_output_cannot_be_spoofed_by_terminal_controls(make_case, photo, run_cli, tmp_path):
    root = make_case({SPOOF: jpeg_bytes(photo)})
    out = tmp_path / "out"
    run_cli("analyze", root, "-o", out, "-d", "metadata")
    (root / SPOOF.decode()).write_bytes(jpeg_bytes(photo, 40))  # the evidence changes
    res = run_cli("verify", out, "--case", root)
    assert res.exit_code == 1
    assert "\x1b" not in res.output and "\r" not in res.output
    mismatch = [ln for ln in res.output.splitlines() if ln.startswith("MISMATCH")]
    assert len(mismatch) == 1 and "bad\\x0d\\x1b[2KOK" in mismatch[0] and "CHANGED" in mismatch[0]
    analyze_out = run_cli("analyze", root, "-o", tmp_path / "out2", "-d", "metadata").output
    assert "\x1b" not in analyze_out and "\r" not in analyze_out


def test_bidi_override_is_shown_escaped_and_flagged(make_case, photo, run_cli, tmp_path):
    root = make_case({BIDI: jpeg_bytes(photo), "plain.jpg": jpeg_bytes(photo)})
    out = tmp_path / "out"
    assert run_cli("analyze", root, "-o", out, "-d", "metadata").exit_code == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "\u202e" not in html
    assert "evil\\u202egpj.exe" in html and "name holds hidden characters" in html
    doc = load_findings(out)
    it = next(i for i in doc["items"] if i["path_bytes_hex"] == BIDI.hex())
    assert it["path"] == "evil\\u202egpj.exe" and it["hidden_characters"] is True
    assert any("bidirectional" in m for m in it["messages"])
    plain = next(i for i in doc["items"] if i["path"] == "plain.jpg")
    assert plain["hidden_characters"] is False
    # other user-controlled text (case.toml) is escaped in the page too
    root2 = make_case({"case.toml": 'examiner = "A\u202eB"\n'.encode(), "a.jpg": jpeg_bytes(photo)}, name="case2")
    run_cli("analyze", root2, "-o", tmp_path / "out2", "-d", "metadata")
    html2 = (tmp_path / "out2" / "report.html").read_text(encoding="utf-8")
    assert "\u202e" not in html2 and "A\\u202eB" in html2
