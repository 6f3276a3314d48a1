"""Case intake: content sniffing, streaming hashes, walking, case.toml."""

from __future__ import annotations

import hashlib
import os

import pytest

from forensics.case import CHUNK, hash_path, read_case_info, scan_case, sniff


@pytest.mark.parametrize(
    "head, expected",
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", ("image", "jpeg")),
        (b"\x89PNG\r\n\x1a\n\x00\x00", ("image", "png")),
        (b"II*\x00\x08\x00\x00\x00", ("image", "tiff")),
        (b"MM\x00*\x00\x00\x00\x08", ("image", "tiff")),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", ("image", "webp")),
        (b"RIFF\x00\x00\x00\x00AVI LIST", ("video", "avi")),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", ("video", "mp4")),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", ("video", "mov")),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", ("video", "webm")),
        (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska", ("video", "mkv")),
        (b"%PDF-1.7\n", ("document", "pdf")),
        (b"hello, this is a note\n", ("document", "text")),
        (b"", ("empty", "empty")),
        (bytes(range(200, 256)), ("unknown", "unknown")),
    ],
)
def test_sniff_by_content(head, expected):
    assert sniff(head) == expected


@pytest.mark.parametrize("size", [0, 1, 4095, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 17])
def test_streaming_hashes_match_hashlib(tmp_path, size):
    data = os.urandom(size)
    p = tmp_path / "f.bin"
    p.write_bytes(data)
    h, head = hash_path(str(p))
    assert h.sha256 == hashlib.sha256(data).hexdigest()
    assert h.sha1 == hashlib.sha1(data).hexdigest()
    assert h.md5 == hashlib.md5(data).hexdigest()
    assert h.size == size
    assert head == data[:64]


def test_hashing_refuses_to_follow_symlink(tmp_path):
    (tmp_path / "real").write_bytes(b"x")
    os.symlink(tmp_path / "real", tmp_path / "link")
    with pytest.raises(OSError):
        hash_path(str(tmp_path / "link"))


def test_scan_is_sorted_recursive_and_skips_case_toml(make_case):
    root = make_case({"b.jpg": b"1", "a/z.png": b"2", "a/b/c.mp4": b"3", "case.toml": b"[case]\n"})
    items = scan_case(root)
    assert [it.relpath for it in items] == ["a/b/c.mp4", "a/z.png", "b.jpg"]
    assert [it.id for it in items] == ["E0001", "E0002", "E0003"]


def test_case_toml_and_overrides(make_case):
    root = make_case({"case.toml": b'[case]\ncase_number = "2026-17"\nexaminer = "A. Examiner"\nagency = "Lab"\n'})
    info = read_case_info(root)
    assert (info.case_id, info.examiner, info.agency) == ("2026-17", "A. Examiner", "Lab")
    info = read_case_info(root, case_id="X-1", examiner="B")
    assert (info.case_id, info.examiner) == ("X-1", "B")


def test_broken_case_toml_is_reported_not_fatal(make_case):
    root = make_case({"case.toml": b"[case\nexaminer = "})
    info = read_case_info(root)
    assert info.messages and "case.toml" in info.messages[0]
