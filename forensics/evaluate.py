"""``forensics evaluate`` and ``forensics train fusion``: detectors over a labelled data set.

:func:`run_dataset` runs the selected detectors on every file of one or more labelled
data sets (any layout :mod:`forensics.datasets` reads) exactly as ``forensics analyze``
does (same plugins, same media access, same failure handling) and returns one row per
file: path, SHA-256, label, each detector's status and probability, and the fused verdict.

:func:`summarise` turns rows into metrics per detector (on the files where it ran, with
its coverage) and for the fused verdict: AUC, EER, accuracy and confusion matrix at the
threshold, expected calibration error, and what the three-way labels did.
:func:`roc_figure` draws the ROC curves. :func:`train_fusion` fits the fusion model
(:mod:`forensics.fusion`) on rows and writes it, with its card, to ``models/fusion``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from forensics import fusion, fusion_train
from forensics.metrics import expected_calibration_error, roc_metrics, roc_points

Progress = Callable[[int, int, str], None]
RESULTS_SCHEMA = "forensics-evaluation/1"


def _finding_row(f) -> dict[str, Any]:
    return {"detector": f.detector, "version": f.version, "status": f.status.value,
            "probability": f.probability, "score": None if f.score is None else float(f.score),
            "reason": f.reason, "error_rate": f.error_rate,
            "model_name": (f.model or {}).get("name"), "model_sha256": fusion._model_sha(f)}


def run_dataset(data_dirs: Iterable[Path], detectors: Iterable[str] | None = None, layout: str | None = None,
                kinds: Iterable[str] = ("image", "video"), max_per_class: int | None = None, seed: int = 0,
                progress: Progress | None = None) -> dict[str, Any]:
    """Run detectors over labelled data.

    Parameters
    ----------
    data_dirs : labelled data-set folders
    detectors : detector names (default: every loaded detector)
    max_per_class : evaluate at most this many files per label and folder (a seeded random subset)

    Returns
    -------
    ``{"schema", "data": [...], "detectors": [...], "rows": [...]}``
    """
    from forensics.datasets import read_dataset
    from forensics.engine import analyze_item
    from forensics.media import open_media
    from forensics.plugins import load_plugins

    ps = load_plugins()
    selected = ps.select(list(detectors) if detectors else None)
    samples = []
    data_info = []
    source_of: dict[str, str] = {}  # file -> the data folder (source) it came from
    for d in data_dirs:
        s = read_dataset(Path(d), kinds=tuple(kinds), layout=layout)
        if max_per_class:
            rng = np.random.default_rng(seed)
            keep = []
            for lab in (0, 1):
                idx = [i for i, x in enumerate(s) if x.label == lab]
                if len(idx) > max_per_class:
                    idx = sorted(rng.choice(idx, max_per_class, replace=False).tolist())
                keep += idx
            s = [s[i] for i in sorted(keep)]
        for x in s:
            source_of[str(x.path)] = Path(d).name
        data_info.append({"folder": str(d), "layout": s[0].layout if s else layout, "files": len(s),
                          "manipulated": sum(x.label for x in s), "max_per_class": max_per_class, "seed": seed})
        samples += s
    rows = []
    for k, smp in enumerate(samples):
        if progress:
            progress(k, len(samples), smp.path.name)
        media = open_media(smp.path, hashed=True)
        item = media.item
        row = {"file": smp.path.name, "path": str(smp.path), "label": smp.label, "method": smp.method,
               "source": source_of.get(str(smp.path), ""),
               "kind": item.kind, "sha256": item.hashes.sha256 if item.hashes else None, "findings": []}
        findings = []
        if item.is_media:
            r = analyze_item(item, selected, media=media)  # the same per-item step as `forensics analyze`
            if r.decoded:
                findings = r.findings
            else:
                row["error"] = r.messages[0]
        else:
            row["error"] = "; ".join(item.messages) or f"not image or video ({item.kind})"
        row["findings"] = [_finding_row(f) for f in findings]
        if findings:
            v = fusion.fuse(findings, kind=item.kind)
            row["fused"] = {"probability": v["probability"], "label": v["label"], "method": v["method"],
                            "rule": v.get("rule", {}).get("used")}
        rows.append(row)
        del media
    if progress:
        progress(len(samples), len(samples), "")
    return {"schema": RESULTS_SCHEMA, "data": data_info,
            "detectors": [{"name": ld.detector.name, "version": ld.detector.version} for ld in selected],
            "rows": rows}


def _matrix(rows: list[dict[str, Any]], names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    P = np.full((len(rows), len(names)), np.nan)
    for i, r in enumerate(rows):
        for f in r["findings"]:
            if f["detector"] in names and f["status"] == "ran" and f["probability"] is not None:
                P[i, names.index(f["detector"])] = float(f["probability"])
    return P, np.array([int(r["label"]) for r in rows])


def summarise(results: dict[str, Any], threshold: float = 0.5, group_by: str | None = None) -> dict[str, Any]:
    """Metrics per detector (where it ran) and for the fused verdict (where it decided).

    ``group_by="source"`` adds ``by_source``: the same metrics within each data folder (source), and the
    leave-one-source-out figure of a fusion model refitted without each source and measured on it.
    """
    rows = results["rows"]
    names = [d["name"] for d in results["detectors"]]
    P, y = _matrix(rows, names)
    out: dict[str, Any] = {"n_files": len(rows), "n_manipulated": int(y.sum()), "threshold": threshold,
                           "undecodable": [r["file"] for r in rows if r.get("error")],
                           "detectors": {}, "fused": None, "roc": {}}
    for j, nm in enumerate(names):
        m = ~np.isnan(P[:, j])
        statuses: dict[str, int] = {}
        for r in rows:
            for f in r["findings"]:
                if f["detector"] == nm:
                    statuses[f["status"]] = statuses.get(f["status"], 0) + 1
        entry: dict[str, Any] = {"ran": int(m.sum()), "statuses": statuses}
        if m.sum():
            entry.update(roc_metrics(y[m], P[m, j], threshold))
            out["roc"][nm] = roc_points(y[m], P[m, j])
        out["detectors"][nm] = entry
    fp = np.array([np.nan if (r.get("fused") or {}).get("probability") is None else r["fused"]["probability"]
                   for r in rows], dtype=float)
    m = ~np.isnan(fp)
    rules: dict[str, int] = {}
    for r in rows:
        if r.get("fused"):
            rules[r["fused"]["method"]] = rules.get(r["fused"]["method"], 0) + 1
    fused: dict[str, Any] = {"decided": int(m.sum()), "rules": rules}
    if m.sum():
        fused.update(roc_metrics(y[m], fp[m], threshold))
        fused["three_way"] = fusion_train.decision_error_rates(y[m], fp[m])
        out["roc"]["fused"] = roc_points(y[m], fp[m])
    out["fused"] = fused
    if group_by == "source":
        sources = np.array([r.get("source") or "" for r in rows])
        by: dict[str, Any] = {}
        for src in sorted(set(sources.tolist())):
            sm = sources == src
            entry = {"files": int(sm.sum()), "manipulated": int(y[sm].sum()), "detectors": {}}
            for j, nm in enumerate(names):
                mm = sm & ~np.isnan(P[:, j])
                if mm.sum() and len(np.unique(y[mm])) == 2:
                    entry["detectors"][nm] = {k: v for k, v in roc_metrics(y[mm], P[mm, j], threshold).items()
                                              if k in ("auc", "auc_ci95", "eer", "balanced_accuracy", "ece", "n_test")}
            fm = sm & ~np.isnan(fp)
            if fm.sum() and len(np.unique(y[fm])) == 2:
                entry["fused"] = {k: v for k, v in roc_metrics(y[fm], fp[fm], threshold).items()
                                  if k in ("auc", "auc_ci95", "eer", "balanced_accuracy", "ece", "n_test")}
            by[src] = entry
        out["by_source"] = by
        out["leave_one_source_out"] = leave_one_source_out(P, y, names, sources,
                                                           kinds=np.array([r["kind"] for r in rows]))
    # files the installed fusion model was trained on: the fused figures for them are in-sample
    model, _ = fusion.load_model()
    if model is not None and model.data.get("training_sha256_prefixes"):
        seen = set(model.data["training_sha256_prefixes"])
        overlap = sum(1 for r in rows if r.get("sha256") and r["sha256"][:16] in seen)
        fused["in_fusion_training_data"] = overlap
    return out


def roc_figure(summary: dict[str, Any], title: str = "ROC"):
    """ROC curves of every detector and of the fused verdict (AUC in the legend)."""
    from forensics.plots import figure

    fig = figure(5.5, 5.0)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--", label="chance")
    for name, pts in summary["roc"].items():
        if not pts["fpr"]:
            continue
        m = summary["fused"] if name == "fused" else summary["detectors"][name]
        ax.plot(pts["fpr"], pts["tpr"], lw=2.5 if name == "fused" else 1.5, drawstyle="steps-post",
                label=f"{name}: AUC {m['auc']:.3f} (n={m['n_test']})", color="black" if name == "fused" else None)
    ax.set_xlabel("false-positive rate (authentic called manipulated)")
    ax.set_ylabel("true-positive rate (manipulated detected)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def format_table(summary: dict[str, Any]) -> list[str]:
    """Human-readable lines: one per detector and one for the fused verdict."""
    def f(x, pct=False):
        if x is None:
            return "—"
        return f"{100 * x:.1f}%" if pct else f"{x:.3f}"

    lines = [f"{'detector':<16}{'ran':>6}{'AUC':>8}{'EER':>8}{'acc@thr':>9}{'ECE':>8}   confusion (tn fp fn tp)"]
    items = list(summary["detectors"].items()) + [("FUSED", summary["fused"])]
    for name, m in items:
        n = m.get("ran", m.get("decided", 0))
        if "auc" not in m:
            lines.append(f"{name:<16}{n:>6}   (no scores)")
            continue
        c = m["confusion"]
        lines.append(f"{name:<16}{n:>6}{f(m['auc']):>8}{f(m['eer'], True):>8}{f(m['accuracy'], True):>9}"
                     f"{f(m['ece']):>8}   {c['tn']} {c['fp']} {c['fn']} {c['tp']}")
    fz = summary["fused"]
    if summary.get("undecodable"):
        lines.append(f"{len(summary['undecodable'])} file(s) could not be decoded and were not scored: "
                     + ", ".join(summary["undecodable"][:5]) + (" …" if len(summary["undecodable"]) > 5 else ""))
    if fz.get("three_way"):
        t = fz["three_way"]
        lines.append(f"fused three-way labels: {t['called_authentic']} likely authentic ({t['called_authentic_wrong']} "
                     f"wrong), {t['called_manipulated']} likely manipulated ({t['called_manipulated_wrong']} wrong), "
                     f"{t['inconclusive']} inconclusive; rules used: {fz['rules']}")
    if fz.get("in_fusion_training_data"):
        lines.append(f"note: {fz['in_fusion_training_data']} of these files were in the installed fusion model's "
                     "training data; fused figures for them are in-sample")
    if fz.get("auc_ci95"):
        lines.append(f"fused AUC 95 % bootstrap interval {fz['auc_ci95'][0]:.3f}–{fz['auc_ci95'][1]:.3f}; "
                     f"balanced accuracy {f(fz.get('balanced_accuracy'))}, TPR {f(fz.get('tpr'))}, FPR {f(fz.get('fpr'))}")
    for src, e in (summary.get("by_source") or {}).items():
        parts = [f"{nm} AUC {f(m.get('auc'))}" for nm, m in e["detectors"].items()]
        if e.get("fused"):
            parts.append(f"FUSED AUC {f(e['fused'].get('auc'))}")
        lines.append(f"source {src}: {e['files']} files ({e['manipulated']} manipulated): " + (", ".join(parts) or "—"))
    loso = summary.get("leave_one_source_out") or {}
    for src, m in loso.get("held_out", {}).items():
        lines.append(f"leave-one-source-out fusion, held out {src}: AUC {f(m.get('auc'))} "
                     f"(95 % CI {m.get('auc_ci95')}), ECE {f(m.get('ece'))}, {m.get('n_test')} files")
    return lines


# ------------------------------------------------------------------------------ fusion training
def substitute_out_of_fold(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Replace in-sample detector outputs by the out-of-fold ones its model card records, where it has them.

    A detector whose model was fitted on some of these very files scores them in-sample, and a
    stacker fitted on such scores would trust it too much. Model cards may list
    ``out_of_fold: [{"video" or "file": path, "label": 0/1, "probability": p}]`` (cross-validated
    predictions made while training); for a row whose file name and label match, that
    probability is used instead. Returns the number of substitutions per detector.
    """
    from forensics.models import ModelUnavailable, load_card

    tables: dict[str, dict[str, tuple[int, float]] | None] = {}
    counts: dict[str, int] = {}
    for r in rows:
        for f in r["findings"]:
            if f["status"] != "ran":
                continue
            name = f.get("model_name") or f["detector"]
            if name not in tables:
                try:
                    oof = load_card(name).data.get("out_of_fold") or []
                except ModelUnavailable:
                    oof = []
                tables[name] = {Path(str(e.get("video") or e.get("file") or "")).name: (int(e["label"]), float(e["probability"]))
                                for e in oof if "probability" in e and "label" in e} or None
            table = tables[name]
            hit = table.get(r["file"]) if table else None
            if hit and hit[0] == int(r["label"]):
                f["probability_in_sample"] = f["probability"]
                f["probability"] = hit[1]
                counts[f["detector"]] = counts.get(f["detector"], 0) + 1
    return counts


def _signed(x: float) -> str:
    """``x`` to 3 decimals with its sign: "+0.000", never "-0.000", for a value that rounds to zero."""
    return f"{round(x, 3) or 0.0:+.3f}"


def _validation_data_row(d: dict[str, Any]) -> dict[str, Any]:
    """The fusion card's row for one validation folder: its name, count and label, and where its MANIFEST.csv
    (folder or parent, see :func:`forensics.api.data_set_manifest_row`) says it came from."""
    from forensics.api import data_set_manifest_row, forgery_set_source

    row = {"name": Path(d["folder"]).name, "role": "validation (fusion)", "count": d["files"],
           "label": f"{d['layout']} layout ({d['manipulated']} manipulated)"}
    m = data_set_manifest_row(d["folder"])
    if m:
        row["source"] = forgery_set_source(d["folder"]) + (f", {m['paths']}" if m.get("paths") else "")
        row["licence"] = m.get("licence", "")
        if m.get("paths") and m.get("how_label_known"):  # a set-level manifest row (not a per-file one)
            row["label"] += f"; {m['how_label_known']}"
    return row


def train_fusion(results_list: list[dict[str, Any]], out_dir: Path, calibration: str = "platt", folds: int = 5,
                 seed: int = 0, command: str = "", use_out_of_fold: bool = True, note: str = "",
                 echo: Callable[[str], None] = print, bootstrap: int = 200) -> dict[str, Any]:
    """Fit the fusion model on evaluation rows and write ``fusion.json`` + card to ``out_dir``."""
    import copy

    from forensics.calibration import cross_fitted, logit
    from forensics.cards import write_model_card

    rows, detectors, data = [], {}, []
    seen: dict[tuple, dict[str, Any]] = {}
    for res in results_list:
        # the same file (source and SHA-256) in a later results file: its findings replace those of the same
        # detectors (re-evaluate only the detectors that changed with `forensics evaluate -d NAME`)
        for r in res["rows"]:
            if not r.get("findings"):
                continue
            key = (r.get("source") or "", r.get("sha256") or "", r.get("file") or "") if r.get("sha256") else None
            if key is not None and key in seen:
                old = seen[key]
                newer = {f["detector"] for f in r["findings"]}
                old["findings"] = [f for f in old["findings"] if f["detector"] not in newer] + copy.deepcopy(r["findings"])
                old["findings"].sort(key=lambda f: f["detector"])
                continue
            row = copy.deepcopy(r)
            rows.append(row)
            if key is not None:
                seen[key] = row
        for d in res["detectors"]:
            detectors[d["name"]] = d
        folders = {x.get("folder") for x in data}
        data += [x for x in res.get("data", []) if x.get("folder") not in folders]
    substituted = substitute_out_of_fold(rows) if use_out_of_fold else {}
    if substituted:
        echo("out-of-fold outputs from model cards used instead of in-sample ones: "
             + ", ".join(f"{k} ({v} files)" for k, v in sorted(substituted.items())))
    names = sorted(detectors)
    if not rows or not names:
        raise SystemExit("no evaluated files with findings to train the fusion model on")
    # a detector evaluated in one result file but absent from another's rows did not run there: not applicable
    P, y = _matrix(rows, names)
    if len(np.unique(y)) < 2:
        raise SystemExit("the fusion model needs both authentic and manipulated files")
    kinds = np.array([r["kind"] for r in rows])
    sources = np.array([r.get("source") or "" for r in rows])
    # both stackers (signed log-odds; positive evidence only) measured leave-one-source-out; the installed model's
    # stacker is the one the rule selection below prefers between the two
    loso = {pos: leave_one_source_out(P, y, names, sources, calibration, folds, seed, positive=pos, kinds=kinds)
            for pos in (False, True)}
    stacked_candidates = {}
    for pos, meth in ((False, fusion.STACKED_METHOD), (True, fusion.POSITIVE_METHOD)):
        pooled = loso[pos].get("pooled")
        stacked_candidates[meth] = {**pooled, "decided": pooled["n_test"]} if pooled else None
    fb_p = fusion_train.fallback_probabilities(rows)
    fbm = ~np.isnan(fb_p)
    fallback = {"detectors": names, "decided": int(fbm.sum()),
                "dataset": f"the same {len(rows)} files (the fallback rule has nothing to fit)"}
    if fbm.sum() and len(np.unique(y[fbm])) == 2:
        fallback.update(roc_metrics(y[fbm], fb_p[fbm]))
        fallback["three_way"] = fusion_train.decision_error_rates(y[fbm], fb_p[fbm])
        fallback["kind"] = "cross-source (the rule fits nothing on these files)"
    # the recalibrated fallback: per-kind Platt maps of the fallback log-odds, measured leave-one-source-out
    # log-odds clipped as fusion.fuse_recalibrated clips them at run time
    L = logit(fusion_train.fallback_probabilities(rows, uncapped=True), eps=fusion._EPS)
    recal = None
    if fbm.sum() and len(set(sources[fbm].tolist())) >= 2 and len(np.unique(y[fbm])) == 2:
        pr = fusion_train.recalibrated_out_of_source(L[fbm], y[fbm], kinds[fbm], sources[fbm])
        recal = {**roc_metrics(y[fbm], pr), "three_way": fusion_train.decision_error_rates(y[fbm], pr),
                 "kind": "cross-source", "decided": int(fbm.sum()),
                 "dataset": "leave-one-source-out (maps fitted without the held-out source) over "
                            + ", ".join(sorted(set(sources[fbm].tolist())))}
    # every held-out file gets a stacked probability ("decided" = all of them)
    candidates = {**stacked_candidates, fusion.RECAL_METHOD: recal,
                  fusion.FALLBACK_METHOD: fallback if fallback.get("auc") is not None else None}
    # the installed stacker: the positive-evidence one if the rule selection picks it, or (when it picks another
    # rule) if it is the one preferred between the two stackers
    first = fusion_train.select_rule(candidates)[0]
    positive = (first == fusion.POSITIVE_METHOD if first in fusion.STACKED_METHODS else
                all(stacked_candidates.values())
                and fusion_train.select_rule(stacked_candidates)[0] == fusion.POSITIVE_METHOD)
    model, oof = fusion_train.fit_model(P, y, names, kinds, calibration, folds, seed, positive=positive,
                                        bootstrap=bootstrap)
    # record what each detector was when its outputs were collected
    for d in model["detectors"]:
        d["version"] = detectors[d["name"]]["version"]
        shas = {f.get("model_sha256") for r in rows for f in r["findings"] if f["detector"] == d["name"]}
        shas.discard(None)
        d["model_sha256"] = shas.pop() if len(shas) == 1 else None
    model["training_sha256_prefixes"] = sorted({r["sha256"][:16] for r in rows if r.get("sha256")})
    ok = ~np.isnan(oof)
    z = logit(oof)
    final = oof.copy()  # out-of-fold values after the per-kind map (itself cross-fitted)
    for kind in model["kind_calibration"]:
        m = ok & (kinds == kind)
        final[m] = cross_fitted(z[m], y[m], folds=folds, seed=seed, input="raw", sign=1)
    metrics = roc_metrics(y[ok], final[ok])
    metrics["three_way"] = fusion_train.decision_error_rates(y[ok], final[ok])
    metrics["kind"] = "cross-validated (in-source)"
    per_kind = {}
    for kind in sorted(set(kinds)):
        m = ok & (kinds == kind)
        if len(np.unique(y[m])) == 2:
            per_kind[kind] = {k: v for k, v in roc_metrics(y[m], final[m]).items()
                              if k in ("auc", "auc_ci95", "eer", "balanced_accuracy", "tpr", "fpr", "ece", "n_test",
                                       "n_test_positive", "n_test_negative")}
    metrics["per_kind"] = per_kind
    per_source = loso[positive]
    if per_source.get("pooled"):
        metrics["cross_source"] = per_source["pooled"]
    desc = "; ".join(f"{Path(d['folder']).name} ({d['files']} files, {d['manipulated']} manipulated"
                     f"{', at most ' + str(d['max_per_class']) + ' per class' if d.get('max_per_class') else ''})"
                     for d in data)
    metrics["dataset"] = (f"{folds}-fold cross-validation (calibration and stacking refitted per fold) over "
                          f"{len(rows)} validation files: {desc}")
    metrics["command"] = command
    model["recalibration"] = (fusion_train.fit_kind_calibration(L[fbm], y[fbm], kinds[fbm]) if fbm.sum() else {})
    model["validation_kinds"] = sorted(set(kinds.tolist()))
    if not any(stacked_candidates.values()) and not recal:  # one validation source: no cross-source figure
        candidates[model["method"]] = metrics
    if candidates[fusion.POSITIVE_METHOD] is None and candidates[fusion.STACKED_METHOD] is None:
        candidates.pop(fusion.POSITIVE_METHOD)
    selected, reason = fusion_train.select_rule(candidates)
    keep = ("auc", "auc_ci95", "eer", "balanced_accuracy", "tpr", "fpr", "ece", "n_test", "decided", "kind", "dataset")
    model["selected"] = selected
    model["selection"] = {"rule": selected, "reason": reason,
                          "candidates": {k: ({kk: v[kk] for kk in keep if kk in v} if v else None)
                                         for k, v in candidates.items()}}
    stacked_cv = metrics
    metrics = {**candidates[selected], "command": command,
               "dataset": f"{candidates[selected].get('dataset', '')}; validation: {desc}"}
    per_detector = {}
    for j, nm in enumerate(names):
        m = ~np.isnan(P[:, j])
        if m.sum() and len(np.unique(y[m])) == 2:
            per_detector[nm] = {k: v for k, v in roc_metrics(y[m], P[m, j]).items()
                                if k in ("auc", "auc_ci95", "eer", "accuracy", "ece", "n_test")}
        else:
            per_detector[nm] = {"n_test": int(m.sum())}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / fusion.MODEL_FILE).write_text(json.dumps(model, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    reliability = reliability_figure(y[ok], final[ok], "fused (out-of-fold)")
    from forensics.plots import figure_artifact

    (out_dir / "reliability.png").write_bytes(figure_artifact(reliability, "reliability").png)
    det_rows = "\n".join(
        f"| `{d['name']}` {d['version']} | {d['n_ran']} | {d['calibration']['method']} | {_signed(d['weight'])} | "
        f"{_signed(d['presence'])} | {per_detector[d['name']].get('auc', '—')} |" for d in model["detectors"])
    src_rows = "\n".join(f"| {k} | {v.get('auc', '—')} | {v.get('auc_ci95') or '—'} | {v.get('n_test', '—')} |"
                          for k, v in per_source.get("held_out", {}).items())
    cand_rows = "\n".join(
        f"| `{k}`{' (selected)' if k == selected else ''} | {v.get('auc', '—')} | "
        f"{'–'.join(f'{c:.3f}' for c in v['auc_ci95']) if v.get('auc_ci95') else '—'} | "
        f"{v.get('ece', '—')} | {v.get('decided', v.get('n_test', '—'))} | {v.get('kind', '—')} |"
        if v else f"| `{k}` | — | — | — | — | not measurable on this validation data |"
        for k, v in model["selection"]["candidates"].items())
    card = {
        "name": "fusion", "version": "1.2.0", "title": f"Fusion: rule selected on cross-source validation ({selected})",
        "detector": "forensics/fusion.py (inference), forensics/fusion_train.py (fitting)",
        "method": selected,
        "summary": (f"Selected rule: {selected} ({reason}). Candidates: the fallback rule (AUC-weighted log-odds of "
                    "the detectors' own calibrated probabilities, nothing fitted here); the same log-odds through a "
                    "per-media-kind Platt map; and two stackers. The stacker: "
                    "per detector: class-balanced calibration (increasing; a detector that points the other way "
                    "on these files becomes a constant 0.5), then a logistic regression over logit(calibrated p) "
                    "with every detector's weight held >= 0 (monotone: a stronger 'manipulated' never lowers the "
                    "fused probability) and a ran/missing indicator (a detector that did not run contributes "
                    "nothing). Sample weights "
                    "balance authentic and manipulated files within each missingness pattern, so the fused "
                    "probability assumes even prior odds and equals the likelihood ratio's posterior under 1:1 "
                    "priors. Per media kind, a Platt map of the out-of-fold fused log-odds recalibrates it where "
                    "the kind has enough validation files; the leave-one-source-out figures refit stacker and map "
                    "without the held-out source and measure the probability as a report states it (map and "
                    "validation-size cap applied). The positive-evidence stacker (stacked-positive/1) is "
                    "the same with each detector's calibrated log-odds replaced by its positive part, so a "
                    "detector adds the evidence it finds for its kind of manipulation and a detector finding none "
                    "of its kind cannot cancel it (that enters through the presence offsets); installed stacker: "
                    f"{model['method']}. "
                    f"{len(model['bootstrap'])} bootstrap refits of the stacker give each likelihood ratio its "
                    "interval; the validation counts bound the stated LR (Vergeer et al. 2016)."),
        "architecture": (f"per-detector {calibration} calibration + logistic stacking (C = {model['regularisation_C']})"
                         + ("; the stacker reads the positive part of each calibrated log-odds (stacked-positive/1)"
                            if model["method"] == fusion.POSITIVE_METHOD else "")),
        "files": {"model": {"path": fusion.MODEL_FILE}, "reliability": {"path": "reliability.png"}},
        "detectors": [{k: d[k] for k in ("name", "version", "weight", "presence", "n_ran")} for d in model["detectors"]],
        "intercept": model["intercept"],
        "training": {"command": command, "files": len(rows), "manipulated": int(y.sum()),
                     "authentic": int((1 - y).sum()), "folds": folds, "seed": seed, "calibration": calibration,
                     "note": note, "data_folders": [Path(d["folder"]).name for d in data],
                     "out_of_fold_substitutions": json.dumps(substituted),
                     "evaluation_commands": " ; ".join(r.get("command") for r in results_list if r.get("command"))},
        "data": [_validation_data_row(d) for d in data],
        "metrics": metrics,
        "evaluations": {**{f"stacker, {k} held out": {**v, "kind": "cross-source"}
                           for k, v in per_source.get("held_out", {}).items()},
                        "stacker, 5-fold cross-validation": {**{kk: stacked_cv[kk] for kk in keep if kk in stacked_cv},
                                                              "kind": "cross-validated (in-source)"},
                        **{f"candidate {k}": {kk: v[kk] for kk in keep if kk in v and kk != "dataset"}
                           for k, v in candidates.items() if v}},
        "per_detector_on_validation_data": per_detector,
        "fallback_metrics": fallback,
        "sections": [
            {"title": "Rule selection",
             "body": ("Each candidate rule measured cross-source on the validation data; the installed rule is the "
                      "one with the lowest ECE among those within 0.02 of the best AUC (ties: the simpler rule). "
                      "The selection itself is made on these files, so the selected figure is slightly optimistic."
                      "\n\n| rule | AUC | 95 % CI | ECE | files decided | kind |\n|---|---|---|---|---|---|\n"
                      + cand_rows)},
            {"title": "Detectors and learned weights",
             "body": "| detector | files it ran on | calibration | weight on logit | presence offset | its AUC here |\n"
                     "|---|---|---|---|---|---|\n" + det_rows + f"\n\nIntercept: {_signed(model['intercept'])}."},
            {"title": "Leave-one-source-out",
             "body": ("Fusion (stacker and per-kind map) refitted without each validation source and measured on "
                      "it, on the probability the report states:\n\n| held-out source | AUC | "
                      "95 % CI | files |\n|---|---|---|---|\n" + src_rows) if src_rows else
                     "Only one validation source, or no source with both classes: no leave-one-source-out figure."},
            {"title": "Reliability", "body": "`reliability.png`: observed share of manipulated files per bin of the "
             f"out-of-fold fused probability of the stacker (ECE {stacked_cv.get('ece')})."},
        ],
        "limitations": [
            f"Valid only for the detector set, versions and weights listed; anything else falls back to "
            f"`{fusion.FALLBACK_METHOD}` (the verdict says so).",
            "The validation files are few; intervals are wide, and stated likelihood ratios are bounded by the counts.",
            "Detectors whose own training data overlap these files score them in-sample unless their card lists "
            "out-of-fold predictions (substituted here where available).",
        ],
    }
    write_model_card(out_dir, card)
    echo(f"fusion: stacker cross-validated AUC {stacked_cv['auc']} (95 % CI {stacked_cv.get('auc_ci95')}), "
         f"EER {stacked_cv['eer']}, ECE {stacked_cv['ece']} on {len(rows)} files; per kind {json.dumps(per_kind)}; "
         f"leave-one-source-out {json.dumps(per_source.get('held_out', {}))}; fallback rule AUC "
         f"{fallback.get('auc')}; selected {selected}: {reason}; wrote {out_dir}")
    return card


def leave_one_source_out(P: np.ndarray, y: np.ndarray, names: list[str], sources: np.ndarray,
                         calibration: str = "platt", folds: int = 5, seed: int = 0,
                         positive: bool = False, kinds: np.ndarray | None = None) -> dict[str, Any]:
    """Fusion refitted without each source and measured on it; ``pooled`` is all held-out outputs together.
    ``positive``: the positive-evidence stacker (``stacked-positive/1``). The refit is the whole installed model
    (stacker and per-kind maps, :func:`fusion_train.fit_model`) and the held-out files get the probability the
    report would state (:meth:`fusion.FusionModel.verdict_probability`); ``kinds``: each file's media kind
    (default: all images)."""
    kinds = np.asarray(kinds) if kinds is not None else np.full(len(y), "image")
    out: dict[str, Any] = {"held_out": {}}
    pooled_p, pooled_y = [], []
    for src in sorted(set(sources.tolist())):
        test = sources == src
        train = ~test
        if not src or len(np.unique(y[test])) < 2 or len(np.unique(y[train])) < 2 or train.sum() < 2 * folds:
            continue
        fm = fusion.FusionModel(fusion_train.fit_model(P[train], y[train], names, kinds[train], calibration, folds,
                                                       seed, positive=positive)[0])
        p = np.array([fm.verdict_probability({nm: (None if np.isnan(P[i, j]) else float(P[i, j]))
                                              for j, nm in enumerate(names)}, kinds[i])
                      for i in np.flatnonzero(test)], dtype=float)
        yt, decided = y[test], ~np.isnan(p)  # a file on which no detector ran gets no verdict
        if len(np.unique(yt[decided])) < 2:
            continue
        out["held_out"][src] = {k: v for k, v in roc_metrics(yt[decided], p[decided]).items()
                                if k in ("auc", "auc_ci95", "eer", "balanced_accuracy", "ece", "n_test",
                                         "n_test_positive", "n_test_negative")}
        pooled_p += p[decided].tolist()
        pooled_y += yt[decided].tolist()
    if pooled_y and len(set(pooled_y)) == 2:
        out["pooled"] = {**roc_metrics(np.array(pooled_y), np.array(pooled_p)), "kind": "cross-source",
                         "three_way": fusion_train.decision_error_rates(np.array(pooled_y), np.array(pooled_p)),
                         "dataset": "leave-one-source-out over " + ", ".join(out["held_out"])}
    return out


def reliability_figure(y: np.ndarray, p: np.ndarray, title: str, bins: int = 10):
    """Reliability diagram: observed share of manipulated files per predicted-probability bin, with counts."""
    from forensics.plots import figure

    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    fig = figure(5.0, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], color="#999", ls="--", lw=1, label="perfect calibration")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    xs, ys, ns = [], [], []
    for b in range(bins):
        m = idx == b
        if m.any():
            xs.append(p[m].mean())
            ys.append(y[m].mean())
            ns.append(int(m.sum()))
    ax.plot(xs, ys, marker="o", color="black", label=f"{title} (ECE {expected_calibration_error(y, p):.3f})")
    for x, yy, n in zip(xs, ys, ns):
        ax.annotate(str(n), (x, yy), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel("predicted P(manipulated)")
    ax.set_ylabel("observed share manipulated")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    return fig
