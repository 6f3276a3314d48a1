"""`forensics serve` in a real browser: Playwright for Python driving Debian's chromium.

`playwright install` downloads a browser and fails offline, so it is never used: the tests launch the system's
``chromium`` (``apt-get install -y chromium``, as the README's test set-up and ``.ci/run`` do). Without it the tests
skip on a developer's machine, but under CI (``CI=true``) a missing browser is a failure, never a skip.

``FORENSICS_UPDATE_SCREENSHOT=1 pytest tests/test_web_browser.py`` also writes the README's ``docs/serve.png``
(otherwise the screenshot goes to a temporary folder only, so running the suite never changes the work tree).
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

TOKEN = "browser-test-token-0123456789"
ROOT = Path(__file__).resolve().parents[1]


def _need(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (under CI the browser tests must run: install chromium with apt-get)")
    pytest.skip(what)


def _photos() -> dict[str, bytes]:
    """An authentic photo and a splice (a JPEG-60 region of another photo pasted in, saved at 92)."""
    import numpy as np
    import skimage.data
    from PIL import Image

    def jpg(rgb, q):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=q)
        return buf.getvalue()

    host = skimage.data.coffee()[::2, ::2].copy()
    donor = np.asarray(Image.open(io.BytesIO(jpg(skimage.data.chelsea()[::2, ::2].copy(), 60))))
    host[60:140, 100:200] = donor[40:120, 60:160]
    return {"astronaut.jpg": jpg(skimage.data.astronaut()[::2, ::2].copy(), 92), "coffee-spliced.jpg": jpg(host, 92)}


@pytest.fixture(scope="module")
def browser():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        _need("chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("playwright (the test extra) is not installed")
    with sync_playwright() as p:
        # no background traffic: on a closed network Chromium's own connections (updates, sync, QUIC probes)
        # are refused, many at a time, beside the page's
        b = p.chromium.launch(executable_path=exe, args=[
            "--no-sandbox", "--disable-gpu", "--headless", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from forensics.web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(tmp_path_factory.mktemp("web") / "cases", TOKEN, detectors=["ela"], workers=1)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(timeout=10)


def _wait_until_ended(page, limit_s: float = 240, grace_s: float = 20) -> None:
    """Wait for the live page to say done/failed; on failure say whether the analysis itself hung (with its
    progress as the server has it) or only the page was not updated."""
    api = page.url.replace("/analyses/", "/api/analyses/")
    start, ended_at, job = time.monotonic(), None, {}
    while time.monotonic() - start < limit_s:
        # (wait_for_function would be refused: the page's CSP forbids evaluating strings as script)
        if page.locator("#status.status-done, #status.status-failed").count():
            return
        job = page.request.get(api).json()
        if job.get("status") in ("done", "failed"):
            ended_at = ended_at or time.monotonic()
            if time.monotonic() - ended_at > grace_s:
                pytest.fail(f"the analysis ended ({job['status']}) {grace_s:.0f} s ago but the page still shows "
                            f"{page.inner_text('#status')!r}")
        page.wait_for_timeout(1000)
    pytest.fail(f"the analysis did not end within {limit_s:.0f} s; the server has: {job}")


@pytest.fixture(scope="module")
def analysed(browser, server):
    """Log in, create a case, drop two photos on the upload zone, start an analysis and watch it finish."""
    page = browser.new_page(viewport={"width": 1100, "height": 860})
    problems, foreign = [], []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith((server, "data:")) else None)

    page.goto(f"{server}/?token={TOKEN}")
    assert "token" not in page.url  # the token was swapped for a session cookie
    page.fill("input[name=name]", "Harbour photos")
    page.fill("input[name=case_number]", "2026-0142")
    page.fill("input[name=examiner]", "A. Examiner")
    page.fill("textarea[name=description]", "Two photos received by e-mail")
    page.click("text=Create case")
    page.wait_for_selector("#dropzone")

    files = [{"name": n, "b64": base64.b64encode(d).decode()} for n, d in _photos().items()]
    with page.expect_navigation():
        page.evaluate("""(files) => {
            const dt = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.b64), c => c.charCodeAt(0));
                dt.items.add(new File([bytes], f.name, {type: "image/jpeg"}));
            }
            const zone = document.getElementById("dropzone");
            zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
        }""", files)
    assert "2 file(s) received" in page.inner_text("#uploaded")
    assert page.locator("#evidence tbody tr").count() == 2

    page.click("#analyse")
    page.wait_for_url("**/analyses/*")
    seen_running = page.locator("#status").inner_text() in ("queued", "running")
    _wait_until_ended(page)
    assert page.inner_text("#status") == "done", page.inner_text("#live")
    yield {"page": page, "problems": problems, "foreign": foreign, "seen_running": seen_running}
    page.close()


def test_upload_progress_verdict_and_heat_map(analysed):
    page = analysed["page"]
    assert analysed["seen_running"]  # the page was live (server-sent events) before it said done
    verdicts = page.locator("#results .verdict")
    assert verdicts.count() == 2 and verdicts.first.is_visible()
    doc = page.request.get(page.url.replace("/analyses/", "/api/analyses/") + "/findings.json").json()
    assert verdicts.all_inner_texts() == [it["verdict"]["label"] for it in doc["items"]]  # as in findings.json
    heat = page.locator("#results img.heatmap").first
    heat.wait_for(state="visible")
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", heat.element_handle())
    assert "uploaded as astronaut.jpg" in page.inner_text("#results")
    frame = page.frame_locator("iframe.report")
    assert frame.locator("h1").first.inner_text()  # the court report itself, in the page
    page.click("text=Compare two files")
    page.wait_for_selector(".compare .side")
    assert page.locator(".compare .side").count() == 2 and page.locator(".compare img.heatmap").first.is_visible()
    page.go_back()
    assert not analysed["foreign"], analysed["foreign"]  # nothing loaded from anywhere else
    assert not [m for m in analysed["problems"] if "Content Security Policy" in m], analysed["problems"]


def test_page_reaches_the_result_without_the_event_stream(analysed, browser):
    """A proxy that buffers or drops server-sent events: the page's polling fallback still shows the result."""
    ctx = browser.new_context()
    ctx.add_cookies(analysed["page"].context.cookies())  # the same session
    page = ctx.new_page()
    blocked = []
    page.route("**/events", lambda route: (blocked.append(route.request.url), route.abort()))
    page.goto(analysed["page"].url)
    page.click('main a[href^="/cases/"]')
    page.wait_for_selector("#analyse")
    page.click("#analyse")
    page.wait_for_url("**/analyses/*")
    live = page.locator("#status").inner_text() in ("queued", "running")
    _wait_until_ended(page, limit_s=180, grace_s=20)  # polled every 5 s
    assert page.inner_text("#status") == "done" and page.locator("#results .verdict").count() == 2
    assert blocked or not live  # a live page asked for the stream and was refused, and still got the result
    ctx.close()


def test_screenshot_for_the_readme(analysed, tmp_path):
    from PIL import Image

    page = analysed["page"]
    page.wait_for_selector("#results img.heatmap")
    page.evaluate("window.scrollTo(0, 0)")
    shot = tmp_path / "serve.png"
    page.screenshot(path=str(shot))
    img = Image.open(shot).convert("RGB")
    assert img.size == (1100, 860)
    assert len(img.resize((64, 64)).getcolors(maxcolors=64 * 64)) > 50  # a rendered page, not a blank one
    if os.environ.get("FORENSICS_UPDATE_SCREENSHOT") == "1":
        small = img.resize((880, 688), Image.LANCZOS).quantize(colors=96, method=Image.MEDIANCUT)
        (ROOT / "docs").mkdir(exist_ok=True)
        small.save(ROOT / "docs" / "serve.png", optimize=True)
