"""The demo case regenerates deterministically, stays small, and analyses end to end."""

from __future__ import annotations

import hashlib
from pathlib import Path

from conftest import load_findings

from forensics.demo import make_demo_case

REPO = Path(__file__).resolve().parents[1]


def test_demo_is_reproducible_and_small(tmp_path):
    make_demo_case(tmp_path / "a")
    make_demo_case(tmp_path / "b")
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert {"authentic_astronaut.jpg", "spliced_coffee.jpg", "cat.png", "copy_move_cat.png", "face_clip.mp4",
            "corrupt_truncated.jpg"} <= set(files)
    for name in files:
        assert hashlib.sha256((tmp_path / "a" / name).read_bytes()).digest() == \
            hashlib.sha256((tmp_path / "b" / name).read_bytes()).digest(), name
    frames = []
    for d in ("a", "b"):
        import av

        with av.open(str(tmp_path / d / "face_clip.mp4")) as c:
            frames.append([f.to_ndarray(format="rgb24").tobytes() for f in c.decode(video=0)])
    assert len(frames[0]) == 45 and frames[0] == frames[1]
    assert sum(p.stat().st_size for p in (tmp_path / "a").iterdir()) < 5 * 1024 * 1024


def test_committed_demo_case_analyses(run_cli, tmp_path):
    out = tmp_path / "out"
    res = run_cli("analyze", REPO / "cases" / "demo", "-o", out)
    assert res.exit_code == 0
    doc = load_findings(out)
    assert doc["case"]["case_id"] == "DEMO-0001"
    by = {it["path"]: it for it in doc["items"]}
    assert "truncated" in " ".join(by["corrupt_truncated.jpg"]["messages"])
    assert by["authentic_astronaut.jpg"]["verdict"] is not None
    assert all(it["integrity"] == "verified" for it in doc["items"])
    # issue 11/12: the demo shows a detection: the copy-move detector marks the copied region of copy_move_cat.png
    cm = {f["detector"]: f for f in by["copy_move_cat.png"]["findings"]}["copy_move"]
    assert cm["details"]["marked_share"] > 0.02 and cm["details"]["transforms"], cm
    assert {f["detector"]: f for f in by["cat.png"]["findings"]}["copy_move"]["details"]["marked_share"] == 0
    if cm["status"] == "ran":
        assert cm["probability"] > 0.7
