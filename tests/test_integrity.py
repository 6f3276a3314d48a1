"""Court-grade integrity (issue 11): findings bound to hashed bytes, re-sealing caught, signing, atomic and
refused output folders, model provenance, exit codes, report text."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import types
from pathlib import Path

import pytest
from conftest import item_by_path, jpeg_bytes, load_findings, png_bytes

from forensics import hookimpl
from forensics.detector import Detector
from forensics.engine import analyze_case

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ 1: findings bound to the hashed bytes
class _Swap(Detector):
    """Swaps other bytes into the evidence (in place) for the detectors that run after it."""

    name, version, media_kinds = "aaa_swap", "0.0.1", ("image",)
    saved: dict = {}

    def analyze(self, item, media):
        time.sleep(0.02)  # file times have a coarse (jiffy) clock: make the change visible in ctime
        with open(item.path, "rb") as f:
            _Swap.saved[item.path] = f.read()
        with open(item.path, "r+b") as f:
            f.write(_Swap.other)
            f.truncate()
        return self.inconclusive("swapped")


class _Reader(Detector):
    name, version, media_kinds = "mmm_reader", "0.0.1", ("image",)

    def analyze(self, item, media):
        rgb = media.image_rgb()
        return self.inconclusive("read", details={"mean": float(rgb.mean())})


class _Restore(Detector):
    name, version, media_kinds = "zzz_restore", "0.0.1", ("image",)

    def analyze(self, item, media):
        with open(item.path, "r+b") as f:
            f.write(_Swap.saved[item.path])
            f.truncate()
        return self.inconclusive("restored")


swapper = types.SimpleNamespace(__name__="swapper",
                                forensics_register_detectors=hookimpl(lambda: [_Swap(), _Reader(), _Restore()]))


def test_swapped_and_restored_content_is_an_integrity_failure(make_case, photo):
    _Swap.other = png_bytes((255 - photo).copy())
    root = make_case({"a.png": png_bytes(photo)})
    res = analyze_case(root, extra_plugins=[swapper], detectors=["aaa_swap", "mmm_reader", "zzz_restore"])
    it = item_by_path(res.document, "a.png")
    assert hashlib.sha256((root / "a.png").read_bytes()).hexdigest() == it["hashes"]["sha256"]  # restored
    assert it["hashes_after"]["sha256"] == it["hashes"]["sha256"]
    assert it["integrity"] == "CHANGED"  # ... and still caught
    reader = {f["detector"]: f for f in it["findings"]}["mmm_reader"]
    # the reader analysed the hashed bytes (read once, re-hashed in memory), never the swapped-in ones
    assert abs(reader["details"]["mean"] - float(photo.mean())) < 0.01
    assert any("INTEGRITY FAILURE" in m for m in it["messages"])
    events = res.custody.events()
    binding = next(e for e in events if e["event"] == "BINDING")
    assert "ctime" in binding["guarantee"]
    rever = next(e for e in events if e["event"] == "REVERIFIED")
    assert rever["identity_unchanged"] is False
    assert res.document["summary"]["integrity_failures"] == [it["id"]]


class _VideoSwap(Detector):
    """Renames another clip over the evidence (a new inode) before the next detector decodes it."""

    name, version, media_kinds = "aaa_vswap", "0.0.1", ("video",)

    def analyze(self, item, media):
        tmp = item.path + ".swap"
        with open(tmp, "wb") as f:
            f.write(_VideoSwap.other)
        os.replace(tmp, item.path)
        return self.inconclusive("swapped")


class _VideoReader(Detector):
    name, version, media_kinds = "mmm_vreader", "0.0.1", ("video",)

    def analyze(self, item, media):
        return self.inconclusive(f"{sum(1 for _ in media.frames())} frames")


vswapper = types.SimpleNamespace(__name__="vswapper",
                                 forensics_register_detectors=hookimpl(lambda: [_VideoSwap(), _VideoReader()]))


def test_video_swapped_during_analysis_is_not_decoded(make_case, tmp_path):
    from test_hostile_inputs import make_video

    clip = make_video(tmp_path / "a.mp4", n=10).read_bytes()
    _VideoSwap.other = make_video(tmp_path / "b.mp4", n=12, w=48).read_bytes()
    root = make_case({"a.mp4": clip})
    res = analyze_case(root, extra_plugins=[vswapper], detectors=["aaa_vswap", "mmm_vreader"])
    it = item_by_path(res.document, "a.mp4")
    reader = {f["detector"]: f for f in it["findings"]}["mmm_vreader"]
    assert reader["status"] == "failed" and "not the one that was hashed" in reader["reason"]
    assert it["integrity"] == "CHANGED"
    assert any("is not the file that was hashed" in m and "inode" in m for m in it["messages"])


def test_untouched_evidence_passes_every_identity_check(make_case, photo):
    root = make_case({"a.png": png_bytes(photo)})
    res = analyze_case(root, extra_plugins=[swapper], detectors=["mmm_reader"])
    it = item_by_path(res.document, "a.png")
    assert it["integrity"] == "verified"
    rever = next(e for e in res.custody.events() if e["event"] == "REVERIFIED")
    assert rever["identity_unchanged"] is True and rever["decoder_identity_checks"] >= 1


# ------------------------------------------------------------------ 11: re-sealing, signing, verify's refusals
def _analyze(run_cli, root, out, *extra):
    res = run_cli("analyze", root, "-o", out, "-d", "metadata", *extra)
    assert res.exit_code == 0, res.output
    m = re.search(r"Manifest SHA-256: ([0-9a-f]{64})", res.output)
    assert m, res.output
    return m.group(1)


def _reseal(out: Path) -> None:
    """What a forger does after editing: recompute manifest.sha256 from the files."""
    lines = []
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if p.is_file() and rel not in ("manifest.sha256", "manifest.sha256.sig"):
            lines.append(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {rel}\n")
    (out / "manifest.sha256").write_text("".join(lines), encoding="utf-8")


def test_resealed_report_is_caught_by_the_recorded_manifest_hash(make_case, photo, run_cli, tmp_path):
    root = make_case({"a.jpg": jpeg_bytes(photo)})
    out = tmp_path / "out"
    mhash = _analyze(run_cli, root, out)
    assert mhash == hashlib.sha256((out / "manifest.sha256").read_bytes()).hexdigest()
    res = run_cli("verify", out, "--manifest-sha256", mhash)
    assert res.exit_code == 0 and "sealed: manifest SHA-256 matches" in res.output
    report = out / "report.html"
    report.write_text(report.read_text(encoding="utf-8").replace("Examiner", "Exam1ner"), encoding="utf-8")
    _reseal(out)
    res = run_cli("verify", out)
    assert res.exit_code == 0 and "self-consistent only" in res.output  # the forgery is self-consistent ...
    res = run_cli("verify", out, "--manifest-sha256", mhash)
    assert res.exit_code == 1 and "NOT the value given" in res.output  # ... but not the recorded seal


def test_signed_manifest_verifies_and_a_reseal_does_not(make_case, photo, run_cli, tmp_path):
    keys = tmp_path / "keys"
    res = run_cli("keys", "create", keys)
    assert res.exit_code == 0 and "fingerprint:" in res.output
    assert (keys / "forensics-signing.key").stat().st_mode & 0o777 == 0o600
    assert run_cli("keys", "create", keys).exit_code == 2  # never replaces a key silently
    root = make_case({"a.jpg": jpeg_bytes(photo)})
    out = tmp_path / "out"
    _analyze(run_cli, root, out, "--sign-key", keys / "forensics-signing.key")
    assert (out / "manifest.sha256.sig").is_file()
    pub = keys / "forensics-signing.pub"
    res = run_cli("verify", out, "--case", root, "--public-key", pub)
    assert res.exit_code == 0 and "Ed25519 signature verifies" in res.output, res.output
    res = run_cli("verify", out)
    assert res.exit_code == 4 and "present but not checked" in res.output

    other = tmp_path / "other"
    run_cli("keys", "create", other)
    res = run_cli("verify", out, "--public-key", other / "forensics-signing.pub")
    assert res.exit_code == 1 and "does NOT verify" in res.output and "another key" in res.output

    (out / "findings.json").write_text((out / "findings.json").read_text().replace('"metadata"', '"metadatx"'))
    _reseal(out)
    res = run_cli("verify", out, "--public-key", pub)
    assert res.exit_code == 1 and "does NOT verify" in res.output
    assert "differs from the" in res.output  # findings.json no longer matches the digest report.html embeds

    out2 = tmp_path / "unsigned"
    _analyze(run_cli, root, out2)
    res = run_cli("verify", out2, "--public-key", pub)
    assert res.exit_code == 1 and "not signed" in res.output


def test_verify_refuses_manifest_entries_outside_the_report(make_case, photo, run_cli, tmp_path):
    root = make_case({"a.jpg": jpeg_bytes(photo)})
    out = tmp_path / "rep" / "out"
    _analyze(run_cli, root, out)
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    digest = hashlib.sha256(b"secret").hexdigest()
    os.symlink(secret, out / "link.txt")
    with open(out / "manifest.sha256", "a", encoding="utf-8") as f:
        f.write(f"{digest}  ../../secret.txt\n{digest}  {secret}\n{digest}  link.txt\n")
    res = run_cli("verify", out)
    assert res.exit_code == 1
    assert res.output.count("REFUSED, the manifest names a file outside the report folder") == 3
    assert "secret.txt: matches" not in res.output and "link.txt: matches" not in res.output


def test_verify_lists_what_it_cannot_verify_and_rechecks_case_toml(make_case, photo, run_cli, tmp_path):
    root = make_case({"case.toml": b'case_id = "K-1"\n', "a.jpg": jpeg_bytes(photo)})
    os.symlink(root / "a.jpg", root / "link.jpg")
    os.mkfifo(root / "pipe.jpg")
    out = tmp_path / "out"
    _analyze(run_cli, root, out)
    res = run_cli("verify", out, "--case", root)
    assert res.exit_code == 4, res.output
    assert "verification INCOMPLETE" in res.output and "verification passed" not in res.output
    unverified = [ln for ln in res.output.splitlines() if ln.startswith("UNVERIFIED")]
    assert len(unverified) == 2 and any("link.jpg" in u for u in unverified) and any("pipe.jpg" in u for u in unverified)
    assert "case.toml: matches" in res.output
    (root / "case.toml").write_bytes(b'case_id = "K-2"\n')
    res = run_cli("verify", out, "--case", root)
    assert res.exit_code == 1 and "case.toml: CHANGED" in res.output


# ------------------------------------------------------------------ 12, 15: atomic publish, SIGINT, exit codes
def test_interrupted_writing_leaves_no_report_folder(make_case, photo, run_cli, tmp_path, monkeypatch):
    import forensics.report as report_mod

    root = make_case({"a.jpg": jpeg_bytes(photo)})
    out = tmp_path / "out"
    real = report_mod._write_file

    def interrupt(path, data, umask):
        if path.name == "manifest.sha256":
            raise KeyboardInterrupt
        real(path, data, umask)

    monkeypatch.setattr(report_mod, "_write_file", interrupt)
    res = run_cli("analyze", root, "-o", out, "-d", "metadata")
    assert res.exit_code == 130 and "interrupted" in res.output
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["case"]  # no half-written or hidden folder left


def test_interrupt_during_analysis_exits_130_with_one_line(make_case, photo, run_cli, tmp_path, monkeypatch):
    import forensics.engine as engine_mod

    def boom(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine_mod, "analyze_case", boom)
    root = make_case({"a.jpg": jpeg_bytes(photo)})
    res = run_cli("analyze", root, "-o", tmp_path / "out")
    assert res.exit_code == 130 and res.output.strip().count("\n") == 0
    assert not (tmp_path / "out").exists()


def test_only_the_output_folder_writable_falls_back_to_an_incomplete_marker(make_case, photo, run_cli, tmp_path,
                                                                            monkeypatch):
    import tempfile

    import forensics.report as report_mod

    root = make_case({"a.jpg": jpeg_bytes(photo)})
    out = tmp_path / "shared_reports" / "case1"
    out.mkdir(parents=True)
    real_mkdtemp = tempfile.mkdtemp

    def no_parent(*a, dir=None, **kw):  # the parent folder is not writable (root ignores chmod: simulate it)
        if dir is not None and Path(dir) == out.parent:
            raise PermissionError(13, "Permission denied")
        return real_mkdtemp(*a, dir=dir, **kw)

    monkeypatch.setattr(tempfile, "mkdtemp", no_parent)
    mhash = _analyze(run_cli, root, out)
    assert not (out / "INCOMPLETE").exists() and run_cli("verify", out, "--manifest-sha256", mhash).exit_code == 0

    real_write = report_mod.atomic_write

    def interrupt(path, data):
        if path.name == "manifest.sha256":
            raise KeyboardInterrupt
        real_write(path, data)

    monkeypatch.setattr(report_mod, "atomic_write", interrupt)
    assert run_cli("analyze", root, "-o", out, "-d", "metadata").exit_code == 130
    assert (out / "INCOMPLETE").exists()
    res = run_cli("verify", out)
    assert res.exit_code == 1 and "marked incomplete" in res.output


def test_report_folder_is_published_complete(make_case, photo, run_cli, tmp_path):
    root = make_case({"a.jpg": jpeg_bytes(photo)})
    out = tmp_path / "out"
    _analyze(run_cli, root, out)
    names = {p.name for p in out.iterdir()}
    assert {"report.html", "findings.json", "custody.log", "manifest.sha256"} <= names and "INCOMPLETE" not in names
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_evidence_changed_during_analysis_exits_3(make_case, photo, run_cli, tmp_path, monkeypatch):
    import plugins_for_tests as pft

    import forensics.engine as engine_mod

    real = engine_mod.analyze_case
    monkeypatch.setattr(engine_mod, "analyze_case", lambda *a, **kw: real(*a, **{**kw, "extra_plugins": [pft.tamperer]}))
    root = make_case({"a.jpg": jpeg_bytes(photo)})
    res = run_cli("analyze", root, "-o", tmp_path / "out", "-d", "tamperer")
    assert res.exit_code == 3 and "INTEGRITY FAILURE on: E0001" in res.output
    assert (tmp_path / "out" / "manifest.sha256").is_file()  # the report is still written


# ------------------------------------------------------------------ 13: reusing an output folder
def test_output_folder_reuse_rules(make_case, photo, run_cli, tmp_path):
    a = make_case({"a.jpg": jpeg_bytes(photo)}, name="case_a")
    b = make_case({"b.jpg": jpeg_bytes(photo), "c.png": png_bytes(photo)}, name="case_b")
    out = tmp_path / "out"
    _analyze(run_cli, a, out)
    _analyze(run_cli, a, out)  # a previous report of the same case is replaced
    assert run_cli("verify", out, "--case", a).exit_code == 0

    res = run_cli("analyze", b, "-o", out, "-d", "metadata")  # another case's report: refused
    assert res.exit_code == 2 and "report of another case" in res.output and "--force" in res.output
    assert load_findings(out)["items"][0]["path"] == "a.jpg"

    _analyze(run_cli, b, out, "--force")  # replaced; nothing of case A is left behind
    assert [i["path"] for i in load_findings(out)["items"]] == ["b.jpg", "c.png"]
    assert run_cli("verify", out, "--case", b).exit_code == 0

    (out / "notes.txt").write_text("the examiner's own notes")
    res = run_cli("analyze", b, "-o", out, "-d", "metadata", "--force")
    assert res.exit_code == 2 and "does not list" in res.output
    assert (out / "notes.txt").read_text() == "the examiner's own notes"

    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("x")
    res = run_cli("analyze", b, "-o", other, "-d", "metadata", "--force")
    assert res.exit_code == 2 and "holds no forensics report" in res.output
    empty = tmp_path / "empty"
    empty.mkdir()
    _analyze(run_cli, b, empty)


# ------------------------------------------------------------------ 14: model provenance
def test_model_from_forensics_models_path_is_flagged(make_case, photo, run_cli, tmp_path, monkeypatch):
    models = tmp_path / "mymodels"
    shutil.copytree(ROOT / "models" / "ela", models / "ela")
    root = make_case({"a.jpg": jpeg_bytes(photo)})
    out = tmp_path / "out"
    assert run_cli("analyze", root, "-o", out, "-d", "ela").exit_code == 0
    builtin = load_findings(out)["detectors"][0]["model"]
    assert builtin["origin"] == "built-in" and builtin["folder"] == "models/ela"

    monkeypatch.setenv("FORENSICS_MODELS_PATH", str(models))
    out2 = tmp_path / "out2"
    assert run_cli("analyze", root, "-o", out2, "-d", "ela").exit_code == 0
    doc = load_findings(out2)
    m = doc["detectors"][0]["model"]
    assert m["origin"] == "FORENSICS_MODELS_PATH" and m["builtin"] is False and m["folder"] == str(models / "ela")
    assert "NOT the built-in model" in m["status"]
    assert "NOT the built-in model" in (out2 / "report.html").read_text(encoding="utf-8")
    events = [json.loads(ln) for ln in (out2 / "custody.log").read_text().splitlines()]
    ev = next(e for e in events if e["event"] == "MODEL")
    assert ev["origin"] == "FORENSICS_MODELS_PATH" and ev["folder"] == str(models / "ela")
    f = item_by_path(doc, "a.jpg")["findings"][0]
    if f.get("model"):
        assert f["model"]["origin"] == "FORENSICS_MODELS_PATH"


# ------------------------------------------------------------------ 16-19: report text
@pytest.fixture
def rendered(make_case, photo, tmp_path):
    """A report whose detector table lists every installed detector (without running the heavy ones)."""
    from forensics.engine import _with_model_origin
    from forensics.plugins import load_plugins
    from forensics.report import render_html

    root = make_case({"a.jpg": jpeg_bytes(photo)})
    res = analyze_case(root, detectors=["metadata"])
    ps = load_plugins()
    res.document["detectors"] = _with_model_origin(ps.describe(), ps.detectors)
    res.document["run"]["reproduce"] = f"forensics analyze {Path(root).name} -o out -d metadata"
    return res, render_html(res, findings_sha256="0" * 64), root


def test_report_shows_no_training_machine_paths(rendered, tmp_path):
    _res, html, _root = rendered
    text = html.replace(str(tmp_path), "CASE").replace(os.getcwd(), "CWD")
    text = text.replace(str(ROOT), "REPO")
    assert "../shared" not in text and "shared/data" not in text
    m = re.search(r"(?<![\w$.~/-])/(?:work|tmp|home|root)/", text)  # an absolute path, not "$DATA/x/work/y"
    assert m is None, text[max(0, m.start() - 200): m.start() + 100]


def test_no_machine_paths_filter():
    from forensics.report import no_machine_paths

    assert no_machine_paths("forensics train ela --data ../shared/data/face_image/real") == \
        "forensics train ela --data face_image/real"
    assert no_machine_paths("cache /tmp/tmpab12/frames.npz and /work/x/y/z.json") == \
        "cache …/tmpab12/frames.npz and …/y/z.json"


def test_error_rate_cells_show_balanced_accuracy_rates_and_auc_interval(rendered):
    from forensics.report import render_html

    res, html, _ = rendered
    ela = next(d for d in res.document["detectors"] if d["name"] == "ela")
    er = ela["model"]["error_rate"]
    assert {"auc_ci95", "balanced_accuracy", "tpr", "fpr"} <= set(er)  # copied from the card's metrics
    res.document["detectors"] = [ela]
    ela["model"]["error_rate"] = {"auc": 0.7, "auc_ci95": [0.6, 0.8], "eer": 0.35, "balanced_accuracy": 0.66,
                                  "tpr": 0.7, "fpr": 0.38, "threshold": 0.5, "accuracy": 0.9, "n_test": 100,
                                  "n_test_positive": 10, "n_test_negative": 90}
    page = render_html(res)
    assert "95 % CI 0.600–0.800" in page and "balanced accuracy 66.0 %" in page
    assert "TPR 70.0 %" in page and "FPR 38.0 %" in page and "(10 manipulated, 90 authentic)" in page
    assert "accuracy 90.0 %" not in page  # never an accuracy on an unbalanced set alone
    ela["model"]["error_rate"] = {"auc": 0.7, "eer": 0.35, "accuracy": 0.9}
    assert "class balance not recorded" in render_html(res)


def test_method_text_is_rendered_and_reproduction_is_complete(rendered, tmp_path):
    res, html, root = rendered
    method = html[html.index("<h2>Method and reproduction</h2>"):]
    assert "``" not in method and '<div class="prose"><p>' in method and "<code>" in method
    # the command of the run, without machine paths: absolute paths by their last component
    assert f"forensics analyze {Path(root).name} -o out -d metadata" in method
    assert os.getcwd() not in html and str(tmp_path) not in html and str(root) not in html
    assert res.document["case"]["root"] == Path(root).name and len(res.document["case"]["root_id"]) == 32


def test_print_stylesheet_shows_technical_details(rendered):
    _res, html, _ = rendered
    assert ".print-only { display: block; }" in html and "details { display: none; }" in html
    assert html.count('<div class="print-only">') == html.count("<details>") > 0
    assert '<meta name="forensics-findings-sha256" content="' + "0" * 64 + '">' in html


def test_cli_reproduction_command_names_no_machine_path(make_case, photo, run_cli, tmp_path):
    root = make_case({"a.jpg": jpeg_bytes(photo)})
    out = tmp_path / "out"
    _analyze(run_cli, root, out, "--examiner", "Ann O'Neil")
    doc = load_findings(out)
    run = doc["run"]
    assert run["reproduce"] == f"forensics analyze {Path(root).name} -o out --examiner 'Ann O'\"'\"'Neil' -d metadata"
    assert "working_folder" not in run and str(tmp_path) not in json.dumps(doc)
    custody = (out / "custody.log").read_text(encoding="utf-8")
    assert os.getcwd() not in custody and str(tmp_path) not in custody  # the custody log names folders too
    events = {e["event"]: e for e in map(json.loads, custody.splitlines())}
    assert events["RUN_START"]["case_folder"] == Path(root).name
    assert events["RUN_START"]["case_root_id"] == doc["case"]["root_id"]
    assert events["OUTPUTS_WRITTEN"]["out_folder"] == "out"


# ------------------------------------------------------------------ 21: README
def test_readme_is_for_users():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in readme
    assert "download.pytorch.org/whl/cpu" in readme  # how a CPU-only machine installs torch
    assert "Integrity and signing" in readme and "Exit codes" in readme
    assert "Manifest SHA-256:" in readme  # the example output matches what analyze prints


def test_decoder_reads_only_blocks_that_match_the_intake_hashing(tmp_path):
    from forensics.case import CHUNK, VerifiedReader, open_evidence, scan_case
    from forensics.case import hash_item as hash_it

    data = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(2 * CHUNK + 100)  # an MP4 header
    (tmp_path / "v.mp4").write_bytes(data)
    it = scan_case(tmp_path)[0]
    hash_it(it)
    assert it.kind == "video" and len(it.block_sha256) == 3
    r = VerifiedReader(open_evidence(it.path), it)
    assert r.read() == data
    r.seek(CHUNK - 10)
    assert r.read(20) == data[CHUNK - 10: CHUNK + 10]
    r.close()
    with open(it.path, "r+b") as f:  # one byte changed in the middle block, in place
        f.seek(CHUNK + 5)
        f.write(bytes([data[CHUNK + 5] ^ 1]))
    r = VerifiedReader(open_evidence(it.path), it)
    assert r.read(100) == data[:100]  # block 0 is still the hashed one
    r.seek(CHUNK)
    with pytest.raises(OSError, match="differ from the hashed bytes"):
        r.read(10)
    r.close()
    assert it.integrity == "CHANGED" and "read for decoding differ" in it.messages[-1]


def test_seal_log_records_the_manifest_hash_outside_the_report(make_case, photo, run_cli, tmp_path):
    root = make_case({"a.jpg": jpeg_bytes(photo)})
    log = tmp_path / "notes" / "seals.jsonl"
    h1 = _analyze(run_cli, root, tmp_path / "out1", "--seal-log", log)
    h2 = _analyze(run_cli, root, tmp_path / "out2", "--seal-log", log, "--case-id", "X\nforged")
    recs = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [r["manifest_sha256"] for r in recs] == [h1, h2] and recs[1]["case_id"] == "X\nforged"
    assert all(r["event"] == "REPORT_SEALED" and r["signed"] is False for r in recs)
