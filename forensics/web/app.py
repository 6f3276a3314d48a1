"""The FastAPI application behind ``forensics serve``: pages, the JSON API, and the guards in front of both.

Pages are rendered server-side with Jinja2 and made live with the vendored htmx (live progress over server-sent
events). The court report is served exactly as :mod:`forensics.report` wrote it. Every request passes
:class:`Guard` first (token or session, CSRF, security headers); see :mod:`forensics.web.security`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import anyio
import jinja2
from fastapi import Body, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from forensics import __version__
from forensics.web.jobs import Job, JobManager
from forensics.web.security import DATA_CSP, PAGE_CSP, REPORT_CSP, SAFE_METHODS, Auth, security_headers
from forensics.web.store import STATE_DIR, CaseStore, Limits, StoreError, UploadTooLarge, display_original

HERE = Path(__file__).parent
STATIC = {  # the only files served from static/: no directory listing, no path from the request
    "htmx.min.js": "text/javascript; charset=utf-8",
    "sse.min.js": "text/javascript; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "NOTICE": "text/plain; charset=utf-8",
}
MAX_FORM_BYTES = 1 << 20
UPLOAD_OPENAPI = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["files"],
    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}},
    "responses": {"413": {"description": "too many files, a file over the size limit, or a request over the "
                                         "total limit"}}}


# ============================================================================ the guard (pure ASGI middleware)
class Guard:
    """Token/session check, CSRF check for cookie sessions, and security headers on every response."""

    def __init__(self, app: Any, auth: Auth) -> None:
        self.app, self.auth = app, auth

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_headers(send)
        headers = Headers(scope=scope)
        method = scope["method"]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if "token" in query and method == "GET":
            if not self.auth.token_ok(query["token"][0]):
                await _refuse(scope, receive, send, headers, "that token is not this server's token")
                return
            rest = {k: v for k, v in query.items() if k != "token"}
            path = "/" + scope["path"].lstrip("/")  # never "//host": the redirect stays on this server
            location = quote(path) + ("?" + urlencode(rest, doseq=True) if rest else "")
            resp = RedirectResponse(location, status_code=303)
            resp.set_cookie(self.auth.cookie_name, self.auth.new_session(), httponly=True, samesite="strict",
                            path="/", secure=scope.get("scheme") == "https")
            await resp(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        cookie = _cookie(headers, self.auth.cookie_name)
        if self.auth.bearer_ok(headers.get("authorization")):
            state["auth"], state["session"] = "bearer", None
        elif self.auth.session_ok(cookie):
            state["auth"], state["session"] = "cookie", cookie
        else:
            await _refuse(scope, receive, send, headers, "this server needs its token: open the address that "
                          "`forensics serve` printed, or send `Authorization: Bearer <token>`")
            return
        if state["auth"] == "cookie" and method not in SAFE_METHODS:
            given = headers.get("x-csrf-token") or (query.get("csrf") or [None])[0]
            if not given and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                body, receive = await _read_small_body(receive)
                if body is None:
                    await _plain(scope, receive, send, 413, "form too large")
                    return
                given = (parse_qs(body.decode("latin-1")).get("csrf") or [None])[0]
            if not self.auth.csrf_ok(cookie, given):
                await _plain(scope, receive, send, 403, "CSRF check failed: reload the page and try again")
                return
        await self.app(scope, receive, send)


def _with_headers(send: Any) -> Any:
    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            hdrs = list(message.get("headers", []))
            names = {k.lower() for k, _ in hdrs}
            ctype = next((v for k, v in hdrs if k.lower() == b"content-type"), b"")
            csp = PAGE_CSP if ctype.startswith(b"text/html") else DATA_CSP
            hdrs += [(k, v) for k, v in security_headers(csp) if k not in names]
            message = {**message, "headers": hdrs}
        await send(message)

    return wrapped


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


async def _read_small_body(receive: Any) -> tuple[bytes | None, Any]:
    chunks, size, more = [], 0, True
    while more:
        msg = await receive()
        if msg["type"] != "http.request":
            break
        chunks.append(msg.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_FORM_BYTES:
            return None, receive
        more = msg.get("more_body", False)
    body = b"".join(chunks)
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _plain(scope: dict, receive: Any, send: Any, code: int, text: str) -> None:
    await JSONResponse({"detail": text}, status_code=code)(scope, receive, send)


async def _refuse(scope: dict, receive: Any, send: Any, headers: Headers, text: str) -> None:
    if "text/html" in headers.get("accept", ""):
        page = _env().get_template("unauthorized.html.j2").render(message=text)
        await HTMLResponse(page, status_code=401)(scope, receive, send)
    else:
        await JSONResponse({"detail": text}, status_code=401, headers={"www-authenticate": "Bearer"})(
            scope, receive, send)


# ============================================================================ templates
_ENV: jinja2.Environment | None = None


def _env() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
                                  undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        _ENV.filters["pct"] = lambda p: "—" if p is None else f"{100 * float(p):.1f} %"
        _ENV.filters["shown"] = display_original
        _ENV.filters["size"] = _size
        _ENV.globals["version"] = __version__
    return _ENV


def _size(n: int | None) -> str:
    if n is None:
        return "—"
    for unit, k in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << k:
            return f"{n / (1 << k):.1f} {unit}".replace(".0 ", " ")
    return f"{n} bytes"


# ============================================================================ API models
class CaseIn(BaseModel):
    name: str = Field(..., description="Short name shown in the case list.")
    examiner: str = ""
    case_number: str = ""
    agency: str = ""
    description: str = ""


class AnalysisIn(BaseModel):
    source: str | None = Field(None, description="'uploads' (the case folder, default) or a referenced folder.")
    detectors: list[str] | None = Field(None, description="Run only these detectors (default: the server's).")


class ReferenceIn(BaseModel):
    path: str = Field(..., description="An existing folder on this machine; it is read, never written.")


class VerifyIn(BaseModel):
    report_dir: str
    case_dir: str | None = None


# ============================================================================ the application
def create_app(cases_dir: Path, token: str, *, limits: Limits | None = None, workers: int = 1,
               detectors: list[str] | None = None, extra_plugins: list[str] | None = None,
               cookie_name: str = "forensics_session") -> FastAPI:
    """Build the app. ``detectors``/``extra_plugins`` restrict or extend what every analysis runs."""
    store = CaseStore(cases_dir)
    jobs = JobManager(store.root / STATE_DIR, workers=workers)
    limits = limits or Limits()
    auth = Auth(token, cookie_name=cookie_name)
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        jobs.shutdown()

    app = FastAPI(title="forensics serve", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Local web app and JSON API over the forensics engine. Every request needs the "
                              "server's token (`Authorization: Bearer <token>`, or the session cookie set by "
                              "opening the printed address).")
    app.state.store, app.state.jobs, app.state.limits, app.state.auth = store, jobs, limits, auth
    app.add_middleware(Guard, auth=auth)

    # ------------------------------------------------------------ helpers
    def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        sess = request.scope.get("state", {}).get("session")
        html = _env().get_template(name).render(csrf=auth.csrf_for(sess) if sess else "", **ctx)
        return HTMLResponse(html, status_code=status)

    def case_or_404(case_id: str) -> dict[str, Any]:
        try:
            return store.info(case_id)
        except StoreError as exc:
            raise HTTPException(404, str(exc)) from None

    def job_or_404(job_id: str) -> Job:
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, "no such analysis")
        return job

    def done_report(job: Job) -> Path:
        if job.status != "done":
            raise HTTPException(409, f"analysis {job.id} is {job.status}, not done")
        d = jobs.report_dir(job.id)
        if not (d / "report.html").is_file():
            raise HTTPException(404, "the report folder of this analysis is missing")
        return d

    def findings(job: Job) -> dict[str, Any]:
        return json.loads((done_report(job) / "findings.json").read_text(encoding="utf-8"))

    def original_names(job: Job) -> dict[str, str]:
        if job.source != "uploads":
            return {}
        try:
            names: dict[str, str] = {}
            for r in store.intake(job.case_id):
                if r.get("stored_name"):
                    names.setdefault(r["stored_name"], r["original_name"])
            return names
        except StoreError:
            return {}

    def start(case_id: str, body: AnalysisIn) -> Job:
        info = case_or_404(case_id)
        try:
            src = store.source_dir(case_id, body.source)
        except StoreError as exc:
            raise HTTPException(400, str(exc)) from None
        return jobs.submit(case_id, src, source=str(body.source or "uploads"), examiner=info["examiner"],
                           case_number=info["case_number"], detectors=body.detectors or detectors,
                           extra_plugins=extra_plugins or ())

    async def receive_files(request: Request, case_id: str) -> list[dict[str, Any]]:
        case_or_404(case_id)
        who = f"web session from {request.client.host if request.client else 'unknown'}"
        return await receive_uploads(request, store, case_id, limits, who)

    def results_ctx(job: Job) -> dict[str, Any]:
        ctx: dict[str, Any] = {"job": job, "doc": None, "names": original_names(job)}
        if job.status == "done":
            try:
                ctx["doc"] = findings(job)
            except (HTTPException, OSError, ValueError) as exc:
                ctx["error"] = getattr(exc, "detail", str(exc))
        return ctx

    def live_html(job: Job) -> str:
        """The live part of the analysis page, as the event stream and the polling fallback both send it."""
        return _env().get_template("_live.html.j2").render(**results_ctx(job))

    # ------------------------------------------------------------ errors
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return page(request, "error.html.j2", status=exc.status_code, code=exc.status_code, message=exc.detail)

    # ------------------------------------------------------------ static files (a fixed list)
    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in STATIC:
            raise HTTPException(404, "not found")
        return FileResponse(HERE / "static" / name, media_type=STATIC[name],
                            headers={"cache-control": "private, max-age=3600"})

    # ------------------------------------------------------------ pages
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request) -> HTMLResponse:
        return page(request, "cases.html.j2", cases=store.list(), cases_dir=str(store.root))

    @app.post("/cases", include_in_schema=False)
    async def new_case_form(request: Request) -> Response:
        form = await request.form()
        try:
            case_id = store.create(**{k: str(form.get(k, "")) for k in
                                      ("name", "examiner", "case_number", "description", "agency")})
        except StoreError as exc:
            raise HTTPException(400, str(exc)) from None
        return RedirectResponse(f"/cases/{case_id}", status_code=303)

    @app.get("/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False)
    async def case_page(request: Request, case_id: str, uploaded: int | None = None) -> HTMLResponse:
        info = case_or_404(case_id)
        return page(request, "case.html.j2", case=info, evidence=store.evidence(case_id), jobs=jobs.for_case(case_id),
                    limits=limits, uploaded=uploaded)

    @app.post("/cases/{case_id}/evidence", include_in_schema=False)
    async def upload_form(request: Request, case_id: str) -> Response:
        recs = await receive_files(request, case_id)
        return RedirectResponse(f"/cases/{case_id}?uploaded={len(recs)}", status_code=303)

    @app.post("/cases/{case_id}/references", include_in_schema=False)
    async def reference_form(request: Request, case_id: str) -> Response:
        case_or_404(case_id)
        form = await request.form()
        try:
            store.add_reference(case_id, str(form.get("path", "")))
        except StoreError as exc:
            raise HTTPException(400, str(exc)) from None
        return RedirectResponse(f"/cases/{case_id}", status_code=303)

    @app.post("/cases/{case_id}/analyses", include_in_schema=False)
    async def analysis_form(request: Request, case_id: str) -> Response:
        form = await request.form()
        dets = [d.strip() for d in str(form.get("detectors", "")).split(",") if d.strip()]
        job = start(case_id, AnalysisIn(source=str(form.get("source") or "uploads"), detectors=dets or None))
        return RedirectResponse(f"/analyses/{job.id}", status_code=303)

    @app.get("/analyses/{job_id}", response_class=HTMLResponse, include_in_schema=False)
    async def analysis_page(request: Request, job_id: str) -> HTMLResponse:
        job = job_or_404(job_id)
        return page(request, "analysis.html.j2", case=case_or_404(job.case_id), **results_ctx(job))

    @app.post("/analyses/{job_id}/cancel", include_in_schema=False)
    async def cancel_form(job_id: str) -> Response:
        job_or_404(job_id)
        jobs.cancel(job_id)
        return RedirectResponse(f"/analyses/{job_id}", status_code=303)

    @app.get("/analyses/{job_id}/live", response_class=HTMLResponse, include_in_schema=False)
    async def analysis_live(job_id: str) -> HTMLResponse:
        """The live part of the analysis page: the polling fallback beside the event stream (a proxy that
        buffers server-sent events, a dropped stream). 286 once the analysis has ended: htmx stops polling."""
        job = job_or_404(job_id)
        return HTMLResponse(live_html(job), status_code=286 if job.status in ("done", "failed") else 200)

    @app.get("/analyses/{job_id}/events", include_in_schema=False)
    async def analysis_events(request: Request, job_id: str) -> StreamingResponse:
        job_or_404(job_id)

        async def stream():
            version, idle = -1, 0.0
            while True:
                job = jobs.get(job_id)
                if job.version != version:
                    version, idle = job.version, 0.0
                    yield _sse("progress", live_html(job))
                    if job.status in ("done", "failed"):
                        yield _sse("end", "")
                        return
                if await request.is_disconnected():
                    return
                await asyncio.sleep(0.25)
                idle += 0.25
                if idle >= 15:
                    idle = 0.0
                    yield ": keep-alive\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"x-accel-buffering": "no"})

    @app.get("/analyses/{job_id}/report.html", include_in_schema=False)
    async def report_page(job_id: str) -> FileResponse:
        return _report_file(done_report(job_or_404(job_id)))

    @app.get("/analyses/{job_id}/files/{name:path}", include_in_schema=False)
    async def artifact(job_id: str, name: str) -> FileResponse:
        from forensics.report import read_manifest

        d = done_report(job_or_404(job_id))
        if (not name.startswith("artifacts/") or not name.endswith(".png") or ".." in name.split("/")
                or name not in read_manifest(d)):
            raise HTTPException(404, "not an artifact of this report")
        return FileResponse(d / name, media_type="image/png")

    @app.get("/analyses/{job_id}/report.zip", include_in_schema=False)
    async def report_zip_page(job_id: str) -> Response:
        return await _zip_response(done_report(job_or_404(job_id)), job_id)

    @app.get("/analyses/{job_id}/compare", response_class=HTMLResponse, include_in_schema=False)
    async def compare(request: Request, job_id: str, a: str = "", b: str = "") -> HTMLResponse:
        job = job_or_404(job_id)
        doc = findings(job)
        items = {it["id"]: it for it in doc["items"]}
        media = [it for it in doc["items"] if it.get("findings")]
        a = a or (media[0]["id"] if media else "")
        b = b or (media[1]["id"] if len(media) > 1 else a)
        if a not in items or b not in items:
            raise HTTPException(404, "no such file in this report")
        return page(request, "compare.html.j2", case=case_or_404(job.case_id), job=job, media=media,
                    left=items[a], right=items[b], names=original_names(job))

    @app.get("/verify", response_class=HTMLResponse, include_in_schema=False)
    async def verify_page(request: Request) -> HTMLResponse:
        done = [j for c in store.list() for j in jobs.for_case(c["id"]) if j.status == "done"]
        return page(request, "verify.html.j2", done=done, result=None, target=None)

    @app.post("/verify", response_class=HTMLResponse, include_in_schema=False)
    async def verify_form(request: Request) -> HTMLResponse:
        form = await request.form()
        done = [j for c in store.list() for j in jobs.for_case(c["id"]) if j.status == "done"]
        if form.get("analysis"):
            job = job_or_404(str(form["analysis"]))
            out_dir, case_dir = done_report(job), (Path(job.spec["case_dir"]) if form.get("evidence") else None)
        else:
            out_dir = Path(str(form.get("report_dir", "")).strip() or ".")
            case_dir = Path(str(form["case_dir"]).strip()) if str(form.get("case_dir", "")).strip() else None
        res = await _verify(out_dir, case_dir)
        return page(request, "verify.html.j2", done=done, result=res,
                    target={"report": str(out_dir), "case": str(case_dir) if case_dir else None})

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def api_docs(request: Request) -> HTMLResponse:
        return page(request, "docs.html.j2", spec=app.openapi())

    # ------------------------------------------------------------ JSON API
    @app.get("/api/cases", tags=["cases"], summary="List the cases")
    async def api_cases() -> list[dict[str, Any]]:
        return store.list()

    @app.post("/api/cases", tags=["cases"], summary="Create a case (writes case.toml)", status_code=201)
    async def api_new_case(body: CaseIn) -> dict[str, Any]:
        try:
            return store.info(store.create(**body.model_dump()))
        except StoreError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.get("/api/cases/{case_id}", tags=["cases"], summary="A case: its details, evidence and analyses")
    async def api_case(case_id: str) -> dict[str, Any]:
        return {**case_or_404(case_id), "evidence": store.evidence(case_id),
                "analyses": [{"id": j.id, "status": j.status, "created_utc": j.created_utc}
                             for j in jobs.for_case(case_id)]}

    @app.post("/api/cases/{case_id}/evidence", tags=["evidence"], status_code=201, openapi_extra=UPLOAD_OPENAPI,
              summary="Upload evidence (multipart/form-data, field `files`, repeatable)")
    async def api_upload(request: Request, case_id: str) -> dict[str, Any]:
        """Each file is streamed to disk while SHA-256, SHA-1 and MD5 are computed, made read-only and stored
        under a name made from its SHA-256 and the format found in its content; the name the client gave is
        kept in the intake log only."""
        return {"files": await receive_files(request, case_id)}

    @app.post("/api/cases/{case_id}/references", tags=["evidence"], status_code=201,
              summary="Point the case at an existing folder on this machine (read-only)")
    async def api_reference(case_id: str, body: ReferenceIn) -> dict[str, Any]:
        case_or_404(case_id)
        try:
            return {"path": store.add_reference(case_id, body.path)}
        except StoreError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.post("/api/cases/{case_id}/analyses", tags=["analyses"], status_code=202,
              summary="Start an analysis (queued while another one of the same case runs)")
    async def api_start(case_id: str, body: AnalysisIn | None = Body(None)) -> dict[str, Any]:
        job = start(case_id, body or AnalysisIn())
        return {"id": job.id, "status": job.status}

    @app.get("/api/analyses/{job_id}", tags=["analyses"], summary="Status and progress of an analysis")
    async def api_analysis(job_id: str) -> dict[str, Any]:
        """`status` is `queued`, `running`, `done` or `failed` (with `error`); `progress` has each phase's
        done/total, the current step and, per file, each detector's state."""
        return job_or_404(job_id).to_json()

    @app.post("/api/analyses/{job_id}/cancel", tags=["analyses"],
              summary="Cancel a queued or running analysis (it ends as failed, saying it was cancelled)")
    async def api_cancel(job_id: str) -> dict[str, Any]:
        job_or_404(job_id)
        if not jobs.cancel(job_id):
            raise HTTPException(409, "that analysis has already ended")
        return {"id": job_id, "cancelled": True}

    @app.get("/api/analyses/{job_id}/report.html", tags=["analyses"], response_class=HTMLResponse,
             summary="The court report, exactly as written")
    async def api_report(job_id: str) -> FileResponse:
        return _report_file(done_report(job_or_404(job_id)))

    @app.get("/api/analyses/{job_id}/findings.json", tags=["analyses"], summary="findings.json as written")
    async def api_findings(job_id: str) -> FileResponse:
        return FileResponse(done_report(job_or_404(job_id)) / "findings.json", media_type="application/json")

    @app.get("/api/analyses/{job_id}/report.zip", tags=["analyses"],
             summary="The report folder as a zip (with manifest.sha256)")
    async def api_zip(job_id: str) -> Response:
        return await _zip_response(done_report(job_or_404(job_id)), job_id)

    @app.post("/api/analyses/{job_id}/verify", tags=["verify"],
              summary="Re-check an analysis' report folder (and, with evidence=true, re-hash the evidence)")
    async def api_verify_job(job_id: str, evidence: bool = True) -> dict[str, Any]:
        job = job_or_404(job_id)
        res = await _verify(done_report(job), Path(job.spec["case_dir"]) if evidence else None)
        return _verify_json(res)

    @app.post("/api/verify", tags=["verify"], summary="Re-check any report folder on this machine")
    async def api_verify(body: VerifyIn) -> dict[str, Any]:
        res = await _verify(Path(body.report_dir), Path(body.case_dir) if body.case_dir else None)
        return _verify_json(res)

    return app


# ============================================================================ helpers shared by pages and API
def _sse(event: str, data: str) -> str:
    lines = data.splitlines() or [""]
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


def _verify_json(res: Any) -> dict[str, Any]:
    """The result of :func:`forensics.verify.verify` as JSON (the same lines `forensics verify` prints)."""
    return {"passed": res.passed, "ok": res.ok, "problems": res.problems,
            "unverified": list(getattr(res, "unverified", [])), "seal": getattr(res, "seal", "")}


def _report_file(d: Path) -> FileResponse:
    return FileResponse(d / "report.html", media_type="text/html; charset=utf-8",
                        headers={"content-security-policy": REPORT_CSP})


async def _verify(out_dir: Path, case_dir: Path | None):
    from forensics.verify import VerifyResult, verify

    if not out_dir.is_dir():
        return VerifyResult(problems=[f"report folder not found: {display_original(str(out_dir))}"])
    if case_dir is not None and not case_dir.is_dir():
        return VerifyResult(problems=[f"case folder not found: {display_original(str(case_dir))}"])
    return await anyio.to_thread.run_sync(verify, out_dir, case_dir)


async def _zip_response(d: Path, job_id: str) -> Response:
    from forensics.report import MANIFEST, read_manifest

    def build() -> tempfile.SpooledTemporaryFile:
        names = sorted(read_manifest(d)) + [MANIFEST]
        buf = tempfile.SpooledTemporaryFile(max_size=32 << 20)
        with zipfile.ZipFile(buf, "w") as z:
            for n in names:
                p = d / n
                if p.is_file() and not p.is_symlink():
                    z.write(p, f"report-{job_id}/{n}",
                            compress_type=zipfile.ZIP_STORED if n.endswith(".png") else zipfile.ZIP_DEFLATED)
        buf.seek(0)
        return buf

    buf = await anyio.to_thread.run_sync(build)

    def chunks():
        try:
            while block := buf.read(1 << 20):
                yield block
        finally:
            buf.close()

    return StreamingResponse(chunks(), media_type="application/zip",
                             headers={"content-disposition": f'attachment; filename="report-{job_id}.zip"'})


# ============================================================================ streamed multipart uploads
async def receive_uploads(request: Request, store: CaseStore, case_id: str, limits: Limits,
                          who: str) -> list[dict[str, Any]]:
    """Parse ``multipart/form-data`` as it arrives: each part of field ``files`` goes straight to disk.

    Nothing is held whole in memory; the request is refused with 413 as soon as it passes a limit (files per
    request, bytes per file, bytes per request) and every file of a refused request is removed.
    """
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser, parse_options_header

    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise HTTPException(400, "send multipart/form-data with the files in the field 'files'")
    try:
        declared = int(request.headers.get("content-length", "0") or 0)
    except ValueError:
        raise HTTPException(400, "bad Content-Length") from None
    if declared > limits.max_request_bytes:
        raise HTTPException(413, f"upload of {declared} bytes is over the limit of {limits.max_request_bytes} "
                                 "bytes per request")

    done: list[Any] = []
    st: dict[str, Any] = {"field": b"", "value": b"", "headers": {}, "part": None, "skip": False}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        st["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        st["value"] += data[start:end]
        if len(st["value"]) > 16384:
            raise StoreError("a part header of the upload is too long")

    def on_header_end() -> None:
        st["headers"][st["field"].lower()] = st["value"]
        st["field"], st["value"] = b"", b""

    def on_headers_finished() -> None:
        _, disp = parse_options_header(st["headers"].get(b"content-disposition", b""))
        client_type = st["headers"].get(b"content-type", b"").decode("latin-1")[:200]
        name = disp.get(b"name", b"")
        filename = disp.get(b"filename")
        st["headers"] = {}
        st["part"], st["skip"] = None, True
        if name not in (b"files", b"file") or filename is None:
            return  # other fields are ignored (and never stored)
        if filename == b"":
            return  # an empty file input
        if len(done) + 1 > limits.max_files:
            raise UploadTooLarge(f"too many files: at most {limits.max_files} per upload")
        st["part"] = store.begin_upload(case_id, filename.decode("utf-8", "replace"), client_type, limits)
        st["skip"] = False

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if st["part"] is not None:
            st["part"].write(data[start:end])

    def on_part_end() -> None:
        if st["part"] is not None:
            st["part"].close()
            done.append(st["part"])
            st["part"] = None

    parser = MultipartParser(params[b"boundary"], {
        "on_header_field": on_header_field, "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data, "on_part_end": on_part_end})
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limits.max_request_bytes:
                raise UploadTooLarge(f"upload is over the limit of {limits.max_request_bytes} bytes per request")
            if chunk:
                await anyio.to_thread.run_sync(parser.write, chunk)
        parser.finalize()
        if not done:
            raise HTTPException(400, "no file in the field 'files'")
        return await anyio.to_thread.run_sync(store.publish, done, who)
    except UploadTooLarge as exc:
        _discard(st, done)
        raise HTTPException(413, str(exc)) from None
    except MultipartParseError as exc:
        _discard(st, done)
        raise HTTPException(400, f"malformed multipart upload: {exc}") from None
    except StoreError as exc:
        _discard(st, done)
        raise HTTPException(400, str(exc)) from None
    except BaseException:
        _discard(st, done)
        raise


def _discard(st: dict[str, Any], done: list[Any]) -> None:
    if st.get("part") is not None:
        st["part"].discard()
    for up in done:
        up.discard()
