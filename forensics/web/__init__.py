"""``forensics serve``: a local web app over the same engine and the same report template.

Modules
-------
app       FastAPI application: pages (Jinja2 + vendored htmx), the JSON API, authentication, CSRF, CSP.
security  the per-run token, session cookies, CSRF tokens, response headers.
store     case folders on disk: case.toml, streamed uploads (hashed while written, stored read-only under a
          generated name), read-only references to existing folders, the intake log.
jobs      analyses in worker processes (one at a time per case; a crash fails that analysis only) and
          :func:`forensics.web.jobs.run_analysis`, the one place that calls the engine and writes the outputs.

Layout of ``--cases DIR``::

    DIR/<case>/                    an ordinary case folder (case.toml + evidence), exactly what `forensics analyze` reads
    DIR/.forensics-web/<case>/     intake.jsonl (who uploaded what, original names, hashes), references.json, incoming/
    DIR/.forensics-web/analyses/<id>/job.json and report/   (the report folder `forensics verify` checks)

Nothing is fetched at run time: htmx and its SSE extension ship in ``static/`` (see ``static/NOTICE``).
"""
