"""Executors: Ray and a local process pool give the same findings as the in-process run; --resume reuses results."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import jpeg_bytes

DETECTORS = ["ela", "fwa"]  # a calibrated image detector and a CNN on the shared face pipeline (images and video)


def _case(tmp_path, photo):
    from forensics.demo import write_mp4

    case = tmp_path / "case"
    case.mkdir()
    (case / "astronaut.jpg").write_bytes(jpeg_bytes(photo, 90))
    spliced = photo.copy()
    spliced[40:120, 60:160] = photo[120:200, 10:110]
    (case / "spliced.jpg").write_bytes(jpeg_bytes(spliced, 85))
    frames = []
    for i in range(20):
        f = np.full((300, 400, 3), 120, np.uint8)
        f[22:278, 40 + 2 * i:296 + 2 * i] = photo
        frames.append(f)
    write_mp4(case / "clip.mp4", iter(frames), fps=10, codec="mpeg4")
    (case / "notes.txt").write_text("not media\n")
    return case


def _items(result) -> list:
    return json.loads(json.dumps(result.document["items"], sort_keys=True))


@pytest.fixture
def local_run(tmp_path, photo):
    from forensics.engine import analyze_case

    case = _case(tmp_path, photo)
    return case, analyze_case(case, detectors=DETECTORS)


@pytest.mark.slow
def test_ray_executor_findings_equal_local_and_resume_reuses_them(tmp_path, local_run, monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    from forensics.engine import analyze_case
    from forensics.executors import RayExecutor

    case, local = local_run
    cache = tmp_path / "out.cache"
    ex = RayExecutor(workers=2)
    distributed = analyze_case(case, detectors=DETECTORS, executor=ex, cache_dir=cache)
    assert _items(distributed) == _items(local)  # findings, verdicts, coverage, timeline: identical
    assert distributed.artifacts == local.artifacts
    run = distributed.document["run"]["executor"]
    assert run["executor"] == "ray" and run["workers"] == 2 and run["nodes"] >= 1
    # only the coordinator writes custody: the same events, in item order, as the local run
    ev = [e["event"] for e in map(json.loads, distributed.custody.text().splitlines())]
    ev_local = [e["event"] for e in map(json.loads, local.custody.text().splitlines())]
    assert ev == ev_local
    # every analysed media item was cached under its SHA-256; a resumed run reuses them all
    media = [it for it in local.document["items"] if it["kind"] in ("image", "video")]
    files = sorted(p.name for p in cache.rglob("*.json"))
    assert files == sorted(f"{it['hashes']['sha256']}.json" for it in media)
    resumed = analyze_case(case, detectors=DETECTORS, cache_dir=cache, resume=True)
    assert _items(resumed) == _items(local) and resumed.artifacts == local.artifacts
    events = [json.loads(line) for line in resumed.custody.text().splitlines()]
    assert sorted(e["item"] for e in events if e["event"] == "RESUMED") == sorted(it["id"] for it in media)
    assert not any(e["event"] == "DETECTOR_RAN" and e.get("item") not in {it["id"] for it in media}
                   for e in events)


@pytest.mark.slow
def test_local_process_pool_equals_in_process(tmp_path, local_run):
    from forensics.engine import analyze_case
    from forensics.executors import LocalExecutor

    case, local = local_run
    pooled = analyze_case(case, detectors=DETECTORS, executor=LocalExecutor(2))
    assert _items(pooled) == _items(local) and pooled.artifacts == local.artifacts


def test_resume_ignores_results_of_another_configuration(tmp_path, photo):
    from forensics.engine import analyze_case

    case = tmp_path / "c"
    case.mkdir()
    (case / "a.jpg").write_bytes(jpeg_bytes(photo, 90))
    cache = tmp_path / "cache"
    first = analyze_case(case, detectors=["ela"], cache_dir=cache)
    (entry,) = list(cache.rglob("*.json"))
    # a cache entry of another detector set is not reused, and a tampered-with entry of this one is not either
    other = analyze_case(case, detectors=["ela", "fwa"], cache_dir=cache, resume=True)
    assert "RESUMED" not in other.custody.text()
    data = json.loads(entry.read_text())
    data["config_key"] = "0" * 64
    entry.write_text(json.dumps(data))
    again = analyze_case(case, detectors=["ela"], cache_dir=cache, resume=True)
    assert "RESUMED" not in again.custody.text() and _items(again) == _items(first)
    # the same bytes under another name: the result is reused with the new item id
    os.rename(case / "a.jpg", case / "b.jpg")
    renamed = analyze_case(case, detectors=["ela"], cache_dir=cache, resume=True)
    assert "RESUMED" in renamed.custody.text()
    assert renamed.document["items"][0]["findings"] == first.document["items"][0]["findings"]


def test_executor_cli_options(run_cli, tmp_path, photo):
    case = tmp_path / "c"
    case.mkdir()
    (case / "a.jpg").write_bytes(jpeg_bytes(photo, 90))
    res = run_cli("analyze", case, "-o", tmp_path / "out", "-d", "ela", "--executor", "nowhere")
    assert res.exit_code != 0 and "unknown executor" in res.output
    res = run_cli("analyze", case, "-o", tmp_path / "out", "-d", "ela", "--resume")
    assert res.exit_code == 0, res.output
    assert list((tmp_path / "out.cache").rglob("*.json"))
    res = run_cli("analyze", case, "-o", tmp_path / "out", "-d", "ela", "--resume")
    assert res.exit_code == 0, res.output
    assert '"RESUMED"' in (tmp_path / "out" / "custody.log").read_text()
