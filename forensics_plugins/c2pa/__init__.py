"""Content Credentials (C2PA) detector plugin: read and validate embedded C2PA manifests, offline.

Uses the Content Authenticity Initiative's reference reader (``c2pa-python``, bindings of c2pa-rs) with
remote-manifest fetching and OCSP turned off, so nothing leaves the machine. **No trust anchors are shipped
with forensics**: the signature and every hash binding are validated (integrity), but a signer is never
reported as trusted; the examiner judges the signer from the certificate facts shown.

"No content credentials" is neutral: most cameras and programs do not write them and they are removed by
almost any re-save; absence is never evidence of authenticity or of manipulation. The finding is always
*inconclusive* (facts, no probability).
"""

from __future__ import annotations

import json
from typing import Any

from forensics.api import Detector, Finding, evidence_file, hookimpl

TRUST_ANCHORS = None  # none shipped: see the module docstring
MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "tiff": "image/tiff", "gif": "image/gif",
        "heic": "image/heic", "heif": "image/heif", "avif": "image/avif", "mp4": "video/mp4", "mov": "video/quicktime",
        "m4v": "video/mp4", "avi": "video/avi"}
NEUTRAL = ("no content credentials (C2PA manifest) in this file. Most cameras and programs do not write them and "
           "almost any re-save removes them: absence is neutral, never evidence of authenticity or of manipulation")
# validation codes that mean the signed content or claim no longer matches (C2PA 2.1, section 15)
INTEGRITY_FAILURES = ("mismatch", "missing", "malformed", "invalid", "revoked", "expired", "outsidevalidity")


def _fact(field: str, value: Any, note: str = "", flag: bool = False) -> dict:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return {"field": field, "value": text[:300] + ("…" if len(text) > 300 else ""), "note": note, "flag": bool(flag)}


def c2pa_available() -> str | None:
    """``None`` when c2pa-python imports, else the reason it does not."""
    try:
        import c2pa  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - a missing or broken native library
        return f"c2pa-python is not installed or does not load ({exc.__class__.__name__}: {exc})"
    return None


def read_manifest_store(stream, mime: str) -> dict | None:
    """The manifest store as a dict (c2pa-rs JSON) plus ``validation_state``, or ``None`` when there is none."""
    import c2pa

    settings = c2pa.Settings.from_dict({"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}})
    ctx = c2pa.Context(settings)
    try:
        reader = c2pa.Reader(mime, stream, context=ctx)
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__ or "ManifestNotFound" in str(exc) or "JUMBF" in str(exc):
            return None
        raise
    with reader:
        store = json.loads(reader.json())
        try:
            store["validation_state"] = str(reader.get_validation_state())
        except Exception:  # noqa: BLE001 - older bindings
            store.setdefault("validation_state", None)
        try:
            store["remote"] = bool(reader.get_remote_url())
        except Exception:  # noqa: BLE001
            store["remote"] = False
    return store


def _actions(manifest: dict) -> list[dict]:
    out = []
    for a in manifest.get("assertions") or []:
        if str(a.get("label", "")).startswith("c2pa.actions"):
            for act in (a.get("data") or {}).get("actions") or []:
                agent = act.get("softwareAgent")
                if isinstance(agent, dict):
                    agent = " ".join(str(agent.get(k, "")) for k in ("name", "version")).strip()
                out.append({"action": act.get("action"), "softwareAgent": agent, "when": act.get("when"),
                            "digitalSourceType": (act.get("digitalSourceType") or "").rsplit("/", 1)[-1] or None})
    return out


def _generator(m: dict) -> str:
    info = m.get("claim_generator_info")
    if isinstance(info, list) and info:
        return "; ".join(" ".join(str(i.get(k, "")) for k in ("name", "version")).strip() for i in info)
    return str(m.get("claim_generator") or "?")


def describe(store: dict) -> tuple[list[dict], list[str], list[dict]]:
    """Facts table rows, observations worth a look, and the claim chain (active manifest first)."""
    rows, obs, chain = [], [], []
    manifests = store.get("manifests") or {}
    label = store.get("active_manifest")
    state = store.get("validation_state")
    statuses = store.get("validation_status") or []
    results = store.get("validation_results") or {}
    rows.append(_fact("Content credentials", f"present: {len(manifests)} manifest(s); active {label}"))
    rows.append(_fact("Validation state (c2pa-rs)", state or "n/a",
                      "integrity of signatures and hash bindings; signer trust is NOT established: forensics ships no "
                      "C2PA trust anchors, so every signer is reported untrusted"))
    failures = []
    for st in statuses:
        code = str(st.get("code", ""))
        bad = any(k in code.lower() for k in INTEGRITY_FAILURES) and "untrusted" not in code.lower()
        rows.append(_fact(f"Validation status {code}", st.get("explanation") or st.get("url") or "",
                          "integrity failure: the content or the claim changed after signing" if bad else
                          ("expected here: no trust anchors are shipped" if "untrusted" in code.lower() else ""),
                          flag=bad))
        if bad:
            failures.append(code)
    active = results.get("activeManifest") if isinstance(results, dict) else None
    if isinstance(active, dict):
        for st in active.get("failure") or []:
            code = str(st.get("code", ""))
            if code not in failures and "untrusted" not in code.lower():
                failures.append(code)
                rows.append(_fact(f"Validation failure {code}", st.get("explanation") or "",
                                  "integrity failure in the active manifest", flag=True))
    if failures:
        obs.append("C2PA validation failures: " + ", ".join(sorted(set(failures))))
    seen = set()
    while label and label in manifests and label not in seen:
        seen.add(label)
        m = manifests[label]
        sig = m.get("signature_info") or {}
        acts = _actions(m)
        ings = [{"title": i.get("title"), "format": i.get("format"), "relationship": i.get("relationship"),
                 "manifest": i.get("active_manifest")} for i in m.get("ingredients") or []]
        chain.append({"label": label, "claim_generator": _generator(m), "title": m.get("title"),
                      "signer": sig.get("common_name") or sig.get("issuer"), "issuer": sig.get("issuer"),
                      "time": sig.get("time"), "alg": sig.get("alg"), "actions": acts, "ingredients": ings})
        n = len(chain)
        rows.append(_fact(f"Manifest {n}: claim generator", _generator(m)))
        rows.append(_fact(f"Manifest {n}: signer", f"{sig.get('common_name') or '?'} (issuer {sig.get('issuer') or '?'})",
                          "certificate facts as stated in the manifest; not checked against any trust list"))
        if sig.get("time"):
            rows.append(_fact(f"Manifest {n}: signing time", sig["time"]))
        for a in acts:
            src = a.get("digitalSourceType")
            gen = bool(src and ("trainedAlgorithmic" in src or "compositeWithTrainedAlgorithmic" in src
                                or "algorithmicMedia" in src))
            rows.append(_fact(f"Manifest {n}: action", ", ".join(f"{k}={v}" for k, v in a.items() if v),
                              "the signer declares generative-AI content" if gen else "", flag=gen))
            if gen:
                obs.append(f"a C2PA action declares {src}")
        for i in ings:
            rows.append(_fact(f"Manifest {n}: ingredient", ", ".join(f"{k}={v}" for k, v in i.items() if v)))
        nxt = [i["manifest"] for i in ings if i.get("relationship") == "parentOf" and i.get("manifest")]
        label = nxt[0] if nxt else None
    return rows, obs, chain


class C2PADetector(Detector):
    name = "c2pa"
    version = "1.0.0"
    media_kinds = ("image", "video")
    description = "Content Credentials (C2PA): embedded manifests, their signatures and the claim chain, read offline."
    method = ("C2PA Technical Specification 2.1 (Coalition for Content Provenance and Authenticity), read with the "
              "CAI reference implementation c2pa-rs via c2pa-python; no remote manifests, no OCSP, no trust anchors "
              "shipped (integrity validated, signer untrusted).")

    def not_applicable_reason(self, item) -> str | None:
        reason = super().not_applicable_reason(item)
        if reason:
            return reason
        if item.format not in MIME:
            return f"the C2PA reader does not read {item.format.upper()} files"
        return None

    def analyze(self, item, media) -> Finding:
        missing = c2pa_available()
        if missing:
            return self.unavailable(f"{missing}; content credentials were not checked")
        import c2pa

        try:
            with evidence_file(media) as f:
                store = read_manifest_store(f, MIME[item.format])
        except c2pa.C2paError as exc:
            return self.inconclusive(f"a C2PA manifest store is present but could not be read: {exc}",
                                     details={"facts": [_fact("Content credentials", "unreadable", str(exc), flag=True)]})
        if store is None:
            return self.inconclusive(NEUTRAL[0].upper() + NEUTRAL[1:], summary="No content credentials (neutral).",
                                     details={"facts": [_fact("Content credentials", "none", NEUTRAL)],
                                              "trust_anchors": "none shipped"})
        rows, obs, chain = describe(store)
        summary = (f"Content credentials present ({len(chain)} manifest(s) in the chain, generator "
                   f"{chain[0]['claim_generator'] if chain else '?'}); validation state {store.get('validation_state')}; "
                   "signer not checked against a trust list. " + ("Worth a look: " + "; ".join(obs) + "." if obs else ""))
        return self.inconclusive("content credentials are provenance claims, not a manipulation probability: "
                                 "the facts table lists the validated claims", summary=summary,
                                 details={"facts": rows, "observations": obs, "claim_chain": chain,
                                          "trust_anchors": "none shipped",
                                          "validation_status": store.get("validation_status") or []})


@hookimpl
def forensics_register_detectors():
    return [C2PADetector()]
