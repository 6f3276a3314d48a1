"""Bad input: every file gets a clear per-file message, nothing crashes, nothing is rendered unescaped."""

from __future__ import annotations

import os
import struct
import zlib

import pytest
from conftest import item_by_path, jpeg_bytes, load_findings


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header claims a huge image (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


HOSTILE = b"<script>alert(1)</script>\xff\xfe evil.jpg"


@pytest.fixture
def bad_case(make_case, photo, tmp_path):
    good = jpeg_bytes(photo)
    root = make_case({
        "empty.jpg": b"",
        "truncated.jpg": good[: len(good) // 3],
        "random.jpg": os.urandom(4096),
        "random.mp4": os.urandom(4096),
        "bomb.png": bomb_png(),
        "doc.pdf": b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n",
        "notes.txt": b"chain of custody notes\n",
        HOSTILE: good,
        "good.jpg": good,
    })
    outside = tmp_path / "outside_secret.jpg"
    outside.write_bytes(good)
    os.symlink(outside, root / "link_out.jpg")
    return root


def test_bad_inputs_get_per_file_messages(bad_case, run_cli, tmp_path):
    out = tmp_path / "out"
    res = run_cli("analyze", bad_case, "-o", out)
    assert res.exit_code == 0, res.output
    doc = load_findings(out)

    def msgs(path):
        return " | ".join(item_by_path(doc, path)["messages"])

    assert "empty file" in msgs("empty.jpg")
    assert "truncated" in msgs("truncated.jpg")
    assert "not recognised" in msgs("random.jpg") and ".jpg" in msgs("random.jpg")
    assert "not recognised" in msgs("random.mp4") and ".mp4" in msgs("random.mp4")
    assert "decompression-bomb" in msgs("bomb.png")
    assert "pdf" in msgs("doc.pdf") and "text" in msgs("notes.txt")
    link = item_by_path(doc, "link_out.jpg")
    assert link["kind"] == "symlink" and "OUTSIDE the case" in msgs("link_out.jpg")
    assert link["hashes"] is None  # never followed, never hashed
    # the good file and the hostile-named copy were still analysed
    good = item_by_path(doc, "good.jpg")
    assert good["integrity"] == "verified"
    assert {f["detector"]: f["status"] for f in good["findings"]}["ela"] in ("ran", "inconclusive", "unavailable")
    hostile = [it for it in doc["items"] if it["path_bytes_hex"] == HOSTILE.hex()]
    assert len(hostile) == 1 and hostile[0]["hashes"]["sha256"] == good["hashes"]["sha256"]
    assert hostile[0]["path"] == HOSTILE.decode("utf-8", "backslashreplace")


def test_hostile_file_name_is_escaped_in_html(bad_case, run_cli, tmp_path):
    out = tmp_path / "out"
    run_cli("analyze", bad_case, "-o", out)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\xff\\xfe evil.jpg" in html
    # self-contained: no external resources
    for needle in ('src="http', "src='http", 'href="http', "url(", "<link", "@import"):
        assert needle not in html


def test_unreadable_file_is_reported(make_case, photo, run_cli, tmp_path, monkeypatch):
    import forensics.case as case_mod

    root = make_case({"locked.jpg": jpeg_bytes(photo), "ok.jpg": jpeg_bytes(photo)})
    real_open = case_mod.open_evidence

    def deny(path):  # root ignores chmod 000, so deny through the one function that opens evidence
        if path.endswith("locked.jpg"):
            raise PermissionError(13, "Permission denied")
        return real_open(path)

    monkeypatch.setattr(case_mod, "open_evidence", deny)
    out = tmp_path / "out"
    res = run_cli("analyze", root, "-o", out)
    assert res.exit_code == 0
    doc = load_findings(out)
    locked = item_by_path(doc, "locked.jpg")
    assert locked["kind"] == "unreadable" and "Permission denied" in locked["messages"][0]
    assert item_by_path(doc, "ok.jpg")["integrity"] == "verified"


def test_empty_case_dir(make_case, run_cli, tmp_path):
    root = make_case({})
    out = tmp_path / "out"
    res = run_cli("analyze", root, "-o", out)
    assert res.exit_code == 0
    doc = load_findings(out)
    assert doc["items"] == [] and doc["summary"]["items"] == 0
    assert (out / "report.html").is_file()


def test_missing_case_dir_is_one_line_error(run_cli, tmp_path):
    res = run_cli("analyze", tmp_path / "nope", "-o", tmp_path / "out")
    assert res.exit_code != 0
    assert res.output.strip().count("\n") == 0 and "case folder not found" in res.output


def test_output_inside_case_is_refused(make_case, run_cli):
    root = make_case({"a.jpg": b"x"})
    res = run_cli("analyze", root, "-o", root / "report")
    assert res.exit_code != 0 and "must not be inside the case folder" in res.output
    assert not (root / "report").exists()


def test_unwritable_output_is_one_line_error(make_case, run_cli, tmp_path):
    root = make_case({"a.jpg": b"x"})
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    res = run_cli("analyze", root, "-o", blocker / "out")
    assert res.exit_code != 0 and "not writable" in res.output
