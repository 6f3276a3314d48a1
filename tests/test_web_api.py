"""`forensics serve`: the JSON API and the guards, through FastAPI's TestClient (real worker processes)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import signal
import time
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from forensics import hookimpl  # noqa: E402
from forensics.detector import Detector  # noqa: E402

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _image(seed: int):
    import numpy as np
    import skimage.data

    rgb = skimage.data.astronaut()[::4, ::4].astype(np.int16)  # 128x128, public domain
    rgb += np.random.default_rng(seed).integers(-3, 4, rgb.shape, dtype=np.int16)
    return rgb.clip(0, 255).astype(np.uint8)


def jpeg(seed: int = 0) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(_image(seed)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def png(seed: int = 0) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(_image(seed)[:32, :32]).save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- a detector that kills its own worker process
class SigKill(Detector):
    name, version, media_kinds = "sigkill", "0.0.1", ("image",)

    def analyze(self, item, media):
        os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's OOM killer or a segfault in native code looks like


class Sleeper(Detector):
    name, version, media_kinds = "sleeper", "0.0.1", ("image",)

    def analyze(self, item, media):
        time.sleep(120)  # a detector stuck on a file
        return self.inconclusive("woke up")


@hookimpl
def forensics_register_detectors():
    return [SigKill(), Sleeper()]


# ---------------------------------------------------------------- fixtures
def make_app(tmp_path: Path, **kw):
    from forensics.web.app import create_app
    from forensics.web.store import Limits

    kw.setdefault("detectors", ["ela"])
    kw.setdefault("limits", Limits(max_file_bytes=300_000, max_files=3, max_request_bytes=2_000_000))
    return create_app(tmp_path / "cases", TOKEN, **kw)


@pytest.fixture
def client(tmp_path):
    with TestClient(make_app(tmp_path, workers=2), base_url="http://127.0.0.1") as c:
        yield c


def new_case(client, **fields) -> str:
    r = client.post("/api/cases", json={"name": "Test case", "examiner": "E. Xaminer", "case_number": "2026-14",
                                        **fields}, headers=AUTH)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def upload(client, case_id, files, headers=AUTH, **kw):
    return client.post(f"/api/cases/{case_id}/evidence", files=[("files", f) for f in files], headers=headers, **kw)


def wait(client, job_id, timeout=240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/api/analyses/{job_id}", headers=AUTH)
        assert r.status_code == 200
        if r.json()["status"] in ("done", "failed"):
            return r.json()
        time.sleep(0.2)
    raise AssertionError(f"analysis {job_id} did not finish: {r.json()}")


def session(client) -> str:
    """Log in through the token URL like a browser; return the CSRF token the pages carry."""
    r = client.get(f"/?token={TOKEN}", follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/").text
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)


# ---------------------------------------------------------------- authentication
def test_every_request_needs_the_token(client):
    for path in ("/", "/api/cases", "/docs", "/openapi.json", "/static/htmx.min.js", "/verify", "/nope"):
        r = client.get(path)
        assert r.status_code == 401, path
        assert "token" in r.json()["detail"]
    assert client.get("/api/cases", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    assert client.get("/api/cases", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert client.get("/?token=wrong-token", follow_redirects=False).status_code == 401
    assert client.get("/", headers={"Cookie": "forensics_session=" + "0" * 32 + ".forged"}).status_code == 401
    assert client.get("/", headers={"Cookie": b"forensics_session=" + b"0" * 32 + ".é".encode()}).status_code == 401
    r = client.get("/", headers={"Accept": "text/html"})
    assert r.status_code == 401 and "forensics serve" in r.text
    assert client.get("/api/cases", headers=AUTH).status_code == 200


def test_token_in_the_url_becomes_a_session_cookie(client):
    r = client.get(f"/cases?x=1&token={TOKEN}", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/cases?x=1"  # the token is dropped from the address
    r = client.get(f"/%2F%2Fevil.example/x?token={TOKEN}", follow_redirects=False)
    assert r.headers["location"] == "/evil.example/x"  # never an address on another host
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = client.get("/")
    assert page.status_code == 200 and "New case" in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "http" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert not re.search(r'(src|href)="(https?:)?//', page.text)  # nothing from elsewhere, no CDN, no font


def test_forms_need_the_csrf_token(client, tmp_path):
    csrf = session(client)
    data = {"name": "Form case", "examiner": "F", "case_number": "1", "description": "d"}
    assert client.post("/cases", data=data, follow_redirects=False).status_code == 403
    assert client.post("/cases", data={**data, "csrf": "0" * 64}, follow_redirects=False).status_code == 403
    assert client.post("/cases", data={**data, "csrf": "é"}, follow_redirects=False).status_code == 403
    assert client.post("/api/cases", json={"name": "x"}).status_code == 403  # cookie alone never changes anything
    r = client.post("/cases", data={**data, "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    case_id = r.headers["location"].rsplit("/", 1)[1]
    body = [("files", ("a.png", png(), "image/png"))]
    assert client.post(f"/cases/{case_id}/evidence", files=body).status_code == 403
    assert not list((tmp_path / "cases" / case_id).glob("*.png"))
    r = client.post(f"/cases/{case_id}/evidence?csrf={csrf}", files=body, follow_redirects=False)
    assert r.status_code == 303
    assert len(list((tmp_path / "cases" / case_id).glob("*.png"))) == 1
    assert client.post("/api/cases", json={"name": "y"}, headers={"X-CSRF-Token": csrf}).status_code == 201


# ---------------------------------------------------------------- intake
def test_upload_is_hashed_sniffed_and_stored_read_only(client, tmp_path):
    case_id = new_case(client)
    data = jpeg()
    r = upload(client, case_id, [("holiday.png", data, "text/plain")])  # name and type lie: content decides
    assert r.status_code == 201, r.text
    (rec,) = r.json()["files"]
    assert rec["sha256"] == hashlib.sha256(data).hexdigest() and rec["md5"] == hashlib.md5(data).hexdigest()
    assert (rec["kind"], rec["format"]) == ("image", "jpeg")
    assert rec["stored_name"] == rec["sha256"][:16] + ".jpg" and rec["original_name"] == "holiday.png"
    stored = tmp_path / "cases" / case_id / rec["stored_name"]
    assert stored.read_bytes() == data and (stored.stat().st_mode & 0o777) == 0o444
    again = upload(client, case_id, [("copy.jpg", data, "image/jpeg")]).json()["files"][0]
    assert again["duplicate_of_existing"] and again["stored_name"] == rec["stored_name"]
    (listed,) = client.get(f"/api/cases/{case_id}", headers=AUTH).json()["evidence"]
    assert listed["original_name"] == "holiday.png" and listed["read_only"]
    toml = (tmp_path / "cases" / case_id / "case.toml").read_text()
    assert 'examiner = "E. Xaminer"' in toml and 'case_number = "2026-14"' in toml


def test_traversal_names_stay_inside_the_case(client, tmp_path):
    case_id = new_case(client)
    names = ["../../x.jpg", "..\\..\\evil.jpg", "/etc/passwd", "sub/../../../y.png", "%2e%2e%2fz.png", "...."]
    files = [(n, jpeg(seed=i), "image/jpeg") for i, n in enumerate(names[:3])]
    assert upload(client, case_id, files).status_code == 201
    files = [(n, png(seed=i), "image/png") for i, n in enumerate(names[3:])]
    assert upload(client, case_id, files).status_code == 201
    case_dir = tmp_path / "cases" / case_id
    stored = sorted(p.name for p in case_dir.iterdir() if p.name != "case.toml")
    assert len(stored) == 6 and all(re.fullmatch(r"[0-9a-f]{16}\.(jpg|png)", n) for n in stored)
    outside = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert not any(n.endswith(("x.jpg", "evil.jpg", "y.png", "passwd")) for n in outside)
    info = client.get(f"/api/cases/{case_id}", headers=AUTH).json()
    assert {e["original_name"] for e in info["evidence"]} == set(names)  # kept, as a record only


def test_oversize_and_too_many_files_are_413(client, tmp_path):
    case_id = new_case(client)
    big = b"\xff\xd8\xff\xe0" + os.urandom(300_001)
    r = upload(client, case_id, [("ok.png", png(), "image/png"), ("big.jpg", big, "image/jpeg")])
    assert r.status_code == 413 and "300000 bytes per file" in r.json()["detail"]
    r = upload(client, case_id, [(f"{i}.png", png(seed=i), "image/png") for i in range(4)])
    assert r.status_code == 413 and "at most 3" in r.json()["detail"]
    r = client.post(f"/api/cases/{case_id}/evidence", content=b"x" * 10,
                    headers={**AUTH, "Content-Type": "multipart/form-data; boundary=b", "Content-Length": "9000000"})
    assert r.status_code == 413
    case_dir = tmp_path / "cases" / case_id
    assert [p.name for p in case_dir.iterdir()] == ["case.toml"]  # a refused request leaves nothing behind
    assert not any((tmp_path / "cases" / ".forensics-web" / case_id / "incoming").iterdir())
    assert upload(client, case_id, [("ok.png", png(), "image/png")]).status_code == 201


def test_case_fields_cannot_break_case_toml(client, tmp_path):
    tricky = 'a"b\\c\n[evil]\nexaminer = "x"\x07\x7f é'
    case_id = new_case(client, description=tricky, examiner=tricky)
    import tomllib

    data = tomllib.loads((tmp_path / "cases" / case_id / "case.toml").read_text())
    assert data["case"]["description"] == tricky and data["case"]["examiner"] == tricky and "evil" not in data
    assert client.post("/api/cases", json={"name": "  "}, headers=AUTH).status_code == 400


# ---------------------------------------------------------------- analysis
def test_upload_analysis_report_zip_verify(client, tmp_path):
    case_id = new_case(client)
    upload(client, case_id, [("photo.jpg", jpeg(), "image/jpeg"), ("notes.txt", b"plain text notes\n", "text/plain")])
    r = client.post(f"/api/cases/{case_id}/analyses", headers=AUTH)
    assert r.status_code == 202
    job_id = r.json()["id"]
    assert r.json()["status"] in ("queued", "running")
    job = wait(client, job_id)
    assert job["status"] == "done", job
    assert job["progress"]["phases"]["analysing"] == {"done": 1, "total": 1}
    (per_file,) = [f for f in job["progress"]["files"] if f["file"].endswith(".jpg")]

    r = client.get(f"/api/analyses/{job_id}/report.html", headers=AUTH)
    report_dir = tmp_path / "cases" / ".forensics-web" / "analyses" / job_id / "report"
    assert r.status_code == 200 and r.content == (report_dir / "report.html").read_bytes()  # served as written
    assert "default-src 'none'" in r.headers["content-security-policy"] and "sandbox" in r.headers["content-security-policy"]
    doc = client.get(f"/api/analyses/{job_id}/findings.json", headers=AUTH).json()
    photo = next(it for it in doc["items"] if it["format"] == "jpeg")
    assert photo["verdict"]["label"]  # whatever the fusion decided, the page must show the same (below)
    assert per_file["detectors"] == {"ela": photo["findings"][0]["status"]}  # live progress ended on the finding
    assert doc["case"]["examiner"] == "E. Xaminer" and doc["case"]["case_id"] == "2026-14"
    live = client.get(f"/analyses/{job_id}/live", headers=AUTH)  # the page's polling fallback beside the stream
    assert live.status_code == 286 and 'class="status-done"' in live.text  # 286: htmx stops polling

    z = zipfile.ZipFile(io.BytesIO(client.get(f"/api/analyses/{job_id}/report.zip", headers=AUTH).content))
    names = {n.split("/", 1)[1] for n in z.namelist()}
    assert {"report.html", "findings.json", "custody.log", "manifest.sha256"} <= names
    for line in z.read(f"report-{job_id}/manifest.sha256").decode().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256(z.read(f"report-{job_id}/{name}")).hexdigest() == digest

    v = client.post(f"/api/analyses/{job_id}/verify", headers=AUTH).json()
    assert v["passed"], v
    heat = next(a["file"] for f in photo["findings"] for a in f["artifacts"] if a["file"])
    assert client.get(f"/analyses/{job_id}/files/{heat}", headers=AUTH).content[:8] == b"\x89PNG\r\n\x1a\n"
    for bad in ("findings.json", "../job.json", "artifacts/../../job.json"):
        assert client.get(f"/analyses/{job_id}/files/{bad}", headers=AUTH).status_code == 404

    page = client.get(f"/analyses/{job_id}", headers=AUTH).text
    assert photo["verdict"]["label"] in page and f'src="/analyses/{job_id}/files/{heat}"' in page
    assert "uploaded as photo.jpg" in page
    cmp = client.get(f"/analyses/{job_id}/compare", headers=AUTH)
    assert cmp.status_code == 200 and photo["verdict"]["label"] in cmp.text

    # evidence added after the analysis: verification says so
    upload(client, case_id, [("late.png", png(), "image/png")])
    v = client.post(f"/api/analyses/{job_id}/verify", headers=AUTH).json()
    assert not v["passed"] and any("NEW file" in p for p in v["problems"])
    page = client.post("/verify", data={"analysis": job_id, "evidence": "1"}, headers={**AUTH, "Accept": "text/html"})
    assert "verification FAILED: 1 problem(s)" in page.text and "NEW file" in page.text
    page = client.post("/verify", data={"report_dir": str(report_dir)}, headers=AUTH)
    assert "verification passed" in page.text


def test_live_progress_over_server_sent_events(client):
    case_id = new_case(client)
    upload(client, case_id, [("p.jpg", jpeg(), "image/jpeg")])
    job_id = client.post(f"/api/cases/{case_id}/analyses", headers=AUTH).json()["id"]
    events = []
    with client.stream("GET", f"/analyses/{job_id}/events", headers=AUTH) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event: "):
                events.append(line[7:])
    assert events[-1] == "end" and events.count("progress") >= 2
    assert wait(client, job_id)["status"] == "done"


def test_analyses_run_one_at_a_time_per_case(client):
    a, b = new_case(client, name="A"), new_case(client, name="B")
    upload(client, a, [("a.jpg", jpeg(seed=1), "image/jpeg")])
    upload(client, b, [("b.jpg", jpeg(seed=2), "image/jpeg")])
    ids = [client.post(f"/api/cases/{c}/analyses", headers=AUTH).json()["id"] for c in (a, a, b)]
    jobs = [wait(client, i) for i in ids]
    assert [j["status"] for j in jobs] == ["done"] * 3, jobs
    first, second = sorted(jobs[:2], key=lambda j: j["started_utc"])
    assert second["started_utc"] >= first["finished_utc"]  # same case: never at the same time
    runs = {client.get(f"/api/analyses/{i}/findings.json", headers=AUTH).json()["run"]["id"] for i in ids}
    assert len(runs) == 3


def test_a_crashing_worker_fails_only_its_analysis(tmp_path):
    app = make_app(tmp_path, detectors=["sigkill"], extra_plugins=["test_web_api"])
    with TestClient(app, base_url="http://127.0.0.1") as c:
        case_id = new_case(c)
        upload(c, case_id, [("p.jpg", jpeg(), "image/jpeg")])
        job = wait(c, c.post(f"/api/cases/{case_id}/analyses", headers=AUTH).json()["id"])
        assert job["status"] == "failed" and "signal 9" in job["error"], job
        assert job["progress"]["files"][0]["detectors"] == {"sigkill": "running"}
        assert c.get(f"/api/analyses/{job['id']}/report.html", headers=AUTH).status_code == 409
        job2 = wait(c, c.post(f"/api/cases/{case_id}/analyses", json={"detectors": ["ela"]}, headers=AUTH).json()["id"])
        assert job2["status"] == "done"
        bad = wait(c, c.post(f"/api/cases/{case_id}/analyses", json={"detectors": ["nope"]}, headers=AUTH).json()["id"])
        assert bad["status"] == "failed" and "unknown detector" in bad["error"]


def test_reference_folder_is_read_in_place(client, tmp_path):
    ext = tmp_path / "seized"
    ext.mkdir()
    (ext / "img.jpg").write_bytes(jpeg())
    before = sorted(os.listdir(ext))
    case_id = new_case(client)
    assert client.post(f"/api/cases/{case_id}/references", json={"path": str(tmp_path / "missing")},
                       headers=AUTH).status_code == 400
    assert client.post(f"/api/cases/{case_id}/references", json={"path": str(tmp_path / "cases")},
                       headers=AUTH).status_code == 400
    ref = client.post(f"/api/cases/{case_id}/references", json={"path": str(ext)}, headers=AUTH).json()["path"]
    job = wait(client, client.post(f"/api/cases/{case_id}/analyses", json={"source": ref}, headers=AUTH).json()["id"])
    assert job["status"] == "done"
    doc = client.get(f"/api/analyses/{job['id']}/findings.json", headers=AUTH).json()
    assert [it["path"] for it in doc["items"]] == ["img.jpg"]
    assert sorted(os.listdir(ext)) == before
    bad = client.post(f"/api/cases/{case_id}/analyses", json={"source": "/etc"}, headers=AUTH)
    assert bad.status_code == 400


def test_static_files_are_the_vendored_ones_and_nothing_else(client):
    from forensics.web import app as web_app

    notice = (Path(web_app.__file__).parent / "static" / "NOTICE").read_text()
    for name in ("htmx.min.js", "sse.min.js"):
        body = client.get(f"/static/{name}", headers=AUTH)
        assert body.status_code == 200 and body.headers["content-type"].startswith("text/javascript")
        digest = re.search(rf"^{re.escape(name)}\n(?:.*\n)*?\s+SHA-256\s+([0-9a-f]{{64}})", notice, re.M).group(1)
        assert hashlib.sha256(body.content).hexdigest() == digest
    for path in ("/static/", "/static/../app.py", "/static/%2e%2e/app.py", "/static/templates", "/static/app.py"):
        assert client.get(path, headers=AUTH).status_code == 404, path


def test_openapi_documents_the_api(client):
    spec = client.get("/openapi.json", headers=AUTH).json()
    for path in ("/api/cases", "/api/cases/{case_id}/evidence", "/api/cases/{case_id}/analyses",
                 "/api/analyses/{job_id}", "/api/analyses/{job_id}/report.html"):
        assert path in spec["paths"], path
    body = spec["paths"]["/api/cases/{case_id}/evidence"]["post"]["requestBody"]["content"]
    assert "files" in body["multipart/form-data"]["schema"]["properties"]
    docs = client.get("/docs", headers=AUTH)
    assert docs.status_code == 200 and "/api/cases/{case_id}/evidence" in docs.text
    assert not re.search(r'(src|href)="(https?:)?//', docs.text)
    assert json.loads(json.dumps(spec))["info"]["title"] == "forensics serve"


def test_serve_prints_a_token_address_and_warns_off_loopback(run_cli, monkeypatch, tmp_path):
    import uvicorn

    from forensics.web.security import is_loopback

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    monkeypatch.delenv("FORENSICS_TOKEN", raising=False)
    r = run_cli("serve", "--cases", tmp_path / "c", "--port", "9876")
    token = re.search(r"http://127\.0\.0\.1:9876/\?token=(\S+)", r.output).group(1)
    assert len(token) >= 32 and "warning" not in r.output and seen["host"] == "127.0.0.1"
    with TestClient(seen["app"]) as c:
        assert c.get("/api/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    monkeypatch.setenv("FORENSICS_TOKEN", TOKEN)
    r = run_cli("serve", "--cases", tmp_path / "c", "--host", "0.0.0.0")
    assert "warning: --host 0.0.0.0 is reachable from other machines" in r.output and TOKEN not in r.output
    with TestClient(seen["app"]) as c:
        assert c.get("/api/cases", headers=AUTH).status_code == 200
    assert is_loopback("127.0.0.2") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")


def test_uploads_are_streamed_not_held_in_memory(tmp_path):
    """24 MiB through a real uvicorn server: the server's memory peak stays far below the file's size."""
    import socket
    import threading
    import tracemalloc

    import httpx
    import uvicorn

    from forensics.web.store import Limits

    size, chunk = 24 << 20, 1 << 16
    app = make_app(tmp_path, limits=Limits(max_file_bytes=size, max_files=1, max_request_bytes=size + 4096))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    try:
        deadline = time.monotonic() + 30
        while not srv.started and time.monotonic() < deadline:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        case_id = httpx.post(f"{base}/api/cases", json={"name": "big"}, headers=AUTH).json()["id"]
        digest = hashlib.sha256()

        def body():
            yield (b'--XyZ\r\nContent-Disposition: form-data; name="files"; filename="big.mp4"\r\n'
                   b"Content-Type: video/mp4\r\n\r\n")
            block = bytearray(b"\x00\x00\x00\x18ftypmp42" + bytes(chunk - 12))
            for i in range(size // chunk):
                block[-4:] = i.to_bytes(4, "big")
                digest.update(block)
                yield bytes(block)
            yield b"\r\n--XyZ--\r\n"

        tracemalloc.start()
        tracemalloc.reset_peak()
        r = httpx.post(f"{base}/api/cases/{case_id}/evidence", content=body(), timeout=120,
                       headers={**AUTH, "Content-Type": "multipart/form-data; boundary=XyZ"})
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        srv.should_exit = True
        t.join(timeout=10)
    assert r.status_code == 201, r.text
    (rec,) = r.json()["files"]
    assert rec["size"] == size and rec["sha256"] == digest.hexdigest() and rec["format"] == "mp4"
    assert peak < size / 4, f"peak {peak} bytes while receiving {size}"


def test_a_stuck_analysis_can_be_cancelled(tmp_path):
    app = make_app(tmp_path, detectors=["sleeper"], extra_plugins=["test_web_api"])
    with TestClient(app, base_url="http://127.0.0.1") as c:
        case_id = new_case(c)
        upload(c, case_id, [("p.jpg", jpeg(), "image/jpeg")])
        stuck = c.post(f"/api/cases/{case_id}/analyses", headers=AUTH).json()["id"]
        queued = c.post(f"/api/cases/{case_id}/analyses", json={"detectors": ["ela"]}, headers=AUTH).json()["id"]
        def sleeping() -> bool:
            files = c.get(f"/api/analyses/{stuck}", headers=AUTH).json()["progress"]["files"]
            return any(f["detectors"].get("sleeper") == "running" for f in files)

        deadline = time.monotonic() + 120
        while not sleeping():
            assert time.monotonic() < deadline, "the sleeper never started"
            time.sleep(0.2)
        assert c.get(f"/api/analyses/{queued}", headers=AUTH).json()["status"] == "queued"  # same case: waits
        assert c.post(f"/api/analyses/{queued}/cancel", headers=AUTH).json()["cancelled"]
        assert c.get(f"/api/analyses/{queued}", headers=AUTH).json()["error"] == "cancelled by the user before it started"
        t0 = time.monotonic()
        assert c.post(f"/api/analyses/{stuck}/cancel", headers=AUTH).status_code == 200
        job = wait(c, stuck)
        assert job["status"] == "failed" and "cancelled by the user" in job["error"] and time.monotonic() - t0 < 30
        assert c.post(f"/api/analyses/{stuck}/cancel", headers=AUTH).status_code == 409
        after = wait(c, c.post(f"/api/cases/{case_id}/analyses", json={"detectors": ["ela"]}, headers=AUTH).json()["id"])
        assert after["status"] == "done"  # the case is free again
