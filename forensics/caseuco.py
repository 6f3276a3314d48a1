"""Export a report folder as CASE/UCO JSON-LD (``forensics export case-uco``).

CASE (Cyber-investigation Analysis Standard Expression, https://caseontology.org) on top of UCO (Unified Cyber
Ontology) is the exchange format for digital-forensic results that Autopsy and other tools read. The graph holds:

* the investigation (case number, examiner, description from ``case.toml`` / the command line);
* the tool (``forensics`` and its version) and every detector as a ``uco-tool:AnalyticTool`` (name, version,
  model weights and their SHA-256);
* every evidence file as a ``uco-observable:File`` with a ``FileFacet`` (name, relative path, size, modified
  time) and a ``ContentDataFacet`` carrying its SHA-256, SHA-1 and MD5;
* one ``case-investigation:InvestigativeAction`` per detector run on a file (instrument = the detector,
  object = the file, result = a ``uco-core:Assertion`` stating status, probability and summary), and one per
  fused verdict;
* the report's own files (report.html, findings.json, custody log, manifest) as results of the analysis, with
  their SHA-256 from the manifest.

The graph is built with rdflib and the namespaces of ``case-utils`` (which bundles the ontology, so
``case_validate`` checks it offline). Identifiers are UUIDv5 derived from the run id and evidence hashes, so the
same report always exports to the same graph.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

KB = "http://example.org/kb/"
_NS = uuid.UUID("6f1f7a2e-5b8e-4d35-9d0e-8b1c0a9f4e21")  # namespace of this tool's identifiers


def _iri(kind: str, *parts: Any) -> str:
    return f"{KB}{kind}-{uuid.uuid5(_NS, '|'.join(map(str, (kind, *parts))))}"


def build_graph(report_dir: Path):
    """The CASE/UCO graph (an ``rdflib.Graph``) of the report in ``report_dir``."""
    import rdflib
    from case_utils.namespace import (
        NS_CASE_INVESTIGATION,
        NS_RDF,
        NS_UCO_ACTION,
        NS_UCO_CORE,
        NS_UCO_IDENTITY,
        NS_UCO_OBSERVABLE,
        NS_UCO_TOOL,
        NS_UCO_TYPES,
        NS_UCO_VOCABULARY,
        NS_XSD,
    )

    report_dir = Path(report_dir)
    doc = json.loads((report_dir / "findings.json").read_text(encoding="utf-8"))
    run_id = doc.get("run", {}).get("id", "")
    g = rdflib.Graph()
    for prefix, ns in (("case-investigation", NS_CASE_INVESTIGATION), ("uco-action", NS_UCO_ACTION),
                       ("uco-core", NS_UCO_CORE), ("uco-identity", NS_UCO_IDENTITY),
                       ("uco-observable", NS_UCO_OBSERVABLE), ("uco-tool", NS_UCO_TOOL), ("uco-types", NS_UCO_TYPES),
                       ("uco-vocabulary", NS_UCO_VOCABULARY), ("xsd", NS_XSD), ("kb", rdflib.Namespace(KB))):
        g.bind(prefix, ns)
    L = rdflib.Literal
    U = rdflib.URIRef

    def dt(value: str | None):
        return L(value, datatype=NS_XSD.dateTime) if value else None

    def add(s, p, o) -> None:
        if o is not None:
            g.add((s, p, o))

    case = doc.get("case", {})
    inv = U(_iri("investigation", run_id))
    g.add((inv, NS_RDF.type, NS_CASE_INVESTIGATION.Investigation))
    add(inv, NS_UCO_CORE.name, L(case.get("case_id") or "forensics analysis"))
    add(inv, NS_UCO_CORE.description, L(case["description"]) if case.get("description") else None)
    objects = []

    tool = U(_iri("tool", "forensics", doc["tool"]["version"]))
    g.add((tool, NS_RDF.type, NS_UCO_TOOL.AnalyticTool))
    g.add((tool, NS_UCO_CORE.name, L("forensics")))
    g.add((tool, NS_UCO_TOOL.version, L(doc["tool"]["version"])))
    g.add((tool, NS_UCO_TOOL.toolType, L("media forensics")))
    objects.append(tool)

    examiner = None
    if case.get("examiner"):
        examiner = U(_iri("person", case["examiner"]))
        g.add((examiner, NS_RDF.type, NS_UCO_IDENTITY.Person))
        g.add((examiner, NS_UCO_CORE.name, L(case["examiner"])))
        objects.append(examiner)

    detectors: dict[str, Any] = {}
    for d in doc.get("detectors", []):
        t = U(_iri("detector", d["name"], d["version"]))
        g.add((t, NS_RDF.type, NS_UCO_TOOL.AnalyticTool))
        g.add((t, NS_UCO_CORE.name, L(d["name"])))
        g.add((t, NS_UCO_TOOL.version, L(d["version"])))
        m = d.get("model") or {}
        files = m.get("files") or {}
        desc = (d.get("method") or "") + "".join(f"; weights {f['path']} SHA-256 {f['sha256']}" for f in files.values())
        add(t, NS_UCO_CORE.description, L(desc) if desc else None)
        detectors[d["name"]] = t
        objects.append(t)

    def hashes(node_facet, h: dict[str, Any]) -> None:
        for method, key in (("SHA256", "sha256"), ("SHA1", "sha1"), ("MD5", "md5")):
            if not h.get(key):
                continue
            hn = U(_iri("hash", method, h[key]))
            g.add((hn, NS_RDF.type, NS_UCO_TYPES.Hash))
            g.add((hn, NS_UCO_TYPES.hashMethod, L(method)))  # xsd:string, a HashNameVocab member (UCO >= 1.4)
            g.add((hn, NS_UCO_TYPES.hashValue, L(h[key], datatype=NS_XSD.hexBinary)))
            g.add((node_facet, NS_UCO_OBSERVABLE.hash, hn))

    def file_node(kind: str, key: str, name: str, path: str, size: int | None, mtime: str | None,
                  h: dict[str, Any] | None):
        f = U(_iri(kind, key))
        g.add((f, NS_RDF.type, NS_UCO_OBSERVABLE.File))
        ff = U(_iri(kind + "-filefacet", key))
        g.add((ff, NS_RDF.type, NS_UCO_OBSERVABLE.FileFacet))
        g.add((ff, NS_UCO_OBSERVABLE.fileName, L(name)))
        g.add((ff, NS_UCO_OBSERVABLE.filePath, L(path)))
        add(ff, NS_UCO_OBSERVABLE.sizeInBytes, L(int(size)) if size is not None else None)
        add(ff, NS_UCO_OBSERVABLE.modifiedTime, dt(mtime))
        g.add((f, NS_UCO_CORE.hasFacet, ff))
        if h:
            cf = U(_iri(kind + "-contentfacet", key))
            g.add((cf, NS_RDF.type, NS_UCO_OBSERVABLE.ContentDataFacet))
            add(cf, NS_UCO_OBSERVABLE.sizeInBytes, L(int(h["size"])) if h.get("size") is not None else None)
            hashes(cf, h)
            g.add((f, NS_UCO_CORE.hasFacet, cf))
        objects.append(f)
        return f

    run = doc.get("run", {})
    start, end = dt(run.get("started_utc")), dt(run.get("finished_utc"))
    evidence = []
    for it in doc.get("items", []):
        h = it.get("hashes") or {}
        key = h.get("sha256") or f"{run_id}:{it['id']}"
        f = file_node("file", key, Path(it["path"]).name, it["path"], it.get("size"), it.get("mtime_utc"), h)
        evidence.append(f)
        for fd in it.get("findings", []):
            act = U(_iri("action", run_id, it["id"], fd["detector"]))
            g.add((act, NS_RDF.type, NS_CASE_INVESTIGATION.InvestigativeAction))
            g.add((act, NS_UCO_CORE.name, L(f"{fd['detector']} analysis")))
            add(act, NS_UCO_ACTION.startTime, start)
            add(act, NS_UCO_ACTION.endTime, end)
            add(act, NS_UCO_ACTION.instrument, detectors.get(fd["detector"]))
            add(act, NS_UCO_ACTION.performer, examiner)
            g.add((act, NS_UCO_ACTION.object, f))
            res = U(_iri("assertion", run_id, it["id"], fd["detector"]))
            g.add((res, NS_RDF.type, NS_UCO_CORE.Assertion))
            p = fd.get("probability")
            statement = (f"{fd['detector']} {fd['version']}: {fd['status']}"
                         + (f", P(manipulated) = {p:.4f}" if p is not None else "")
                         + (f"; {fd['reason']}" if fd.get("reason") else "")
                         + (f"; {fd['summary']}" if fd.get("summary") else ""))
            g.add((res, NS_UCO_CORE.statement, L(statement)))
            g.add((act, NS_UCO_ACTION.result, res))
            objects += [act, res]
        v = it.get("verdict")
        if v:
            act = U(_iri("action", run_id, it["id"], "fusion"))
            g.add((act, NS_RDF.type, NS_CASE_INVESTIGATION.InvestigativeAction))
            g.add((act, NS_UCO_CORE.name, L("fused verdict")))
            add(act, NS_UCO_ACTION.startTime, start)
            add(act, NS_UCO_ACTION.endTime, end)
            g.add((act, NS_UCO_ACTION.instrument, tool))
            g.add((act, NS_UCO_ACTION.object, f))
            res = U(_iri("assertion", run_id, it["id"], "fusion"))
            g.add((res, NS_RDF.type, NS_UCO_CORE.Assertion))
            p = v.get("probability")
            g.add((res, NS_UCO_CORE.statement,
                   L(f"{v['label']}" + (f" (P(manipulated) = {p:.4f}, rule {v.get('method')})" if p is not None else ""))))
            g.add((act, NS_UCO_ACTION.result, res))
            objects += [act, res]

    # the report's own files, hashed in the manifest, are the result of the whole analysis
    analysis = U(_iri("action", run_id, "analysis"))
    g.add((analysis, NS_RDF.type, NS_CASE_INVESTIGATION.InvestigativeAction))
    g.add((analysis, NS_UCO_CORE.name, L("forensics analyze")))
    add(analysis, NS_UCO_ACTION.startTime, start)
    add(analysis, NS_UCO_ACTION.endTime, end)
    g.add((analysis, NS_UCO_ACTION.instrument, tool))
    add(analysis, NS_UCO_ACTION.performer, examiner)
    for e in evidence:
        g.add((analysis, NS_UCO_ACTION.object, e))
    manifest = report_dir / "manifest.sha256"
    if manifest.is_file():
        for line in manifest.read_text(encoding="utf-8").splitlines():
            sha, _, name = line.partition("  ")
            if not name or len(sha) != 64:
                continue
            out = file_node("output", f"{run_id}:{name}", Path(name).name, name, None, None, {"sha256": sha})
            g.add((analysis, NS_UCO_ACTION.result, out))
    objects.append(analysis)
    for o in objects:
        g.add((inv, NS_UCO_CORE.object, o))
    return g


def export_case_uco(report_dir: Path, out_file: Path) -> int:
    """Write the report's CASE/UCO graph as JSON-LD to ``out_file`` (atomically); returns the triple count."""
    from forensics.report import atomic_write

    g = build_graph(report_dir)
    data = g.serialize(format="json-ld", indent=1, sort_keys=True)
    atomic_write(Path(out_file), (data if isinstance(data, str) else data.decode("utf-8")).encode("utf-8"))
    return len(g)


__all__ = ["build_graph", "export_case_uco"]
