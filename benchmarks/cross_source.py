"""In-source and cross-source figures of the face detectors, with bootstrap 95 % intervals, in one run.

Sources that are absent are skipped. Data (never committed; see ``../shared/data/README.md``):

* ``face_video`` -- FaceForensics++ c40 originals vs Deepfakes / Face2Face / FaceSwap / NeuralTextures;
* ``face_image`` -- Unsplash portraits vs StyleGAN2 faces;
* ``face_real``  -- the real faces the FWA slot (SBI) trains on: its held-out identities give the in-source,
  synthetic figures.

Sections
--------
1. **FWA** (each ``--model`` folder; default the built-in ``models/fwa``), on faces from the shared pipeline
   cached per file (``--cache``), with the detector's own rule (:mod:`forensics_plugins.fwa.infer`):
   item AUC / EER with stratified bootstrap intervals; face-crop AUC / EER with intervals that resample whole
   files; per FF++ method (``MANIFEST.csv`` names each fake's method); in-source synthetic pairs.
   SBI never trains on these folders, so both are cross-source for FWA. ``--extra ROOT`` adds every labelled
   source ``ROOT/<source>/{real,fake}`` (e.g. face-swap, lip-sync and talking-head clips gathered from public
   repositories): per source, per kind of fake, and pooled.
2. **Engine** (``--engine``, default on): every face detector present (``fwa``, ``resnext_lstm``,
   ``blink_lrcn``, ``rppg``) and the fused verdict, through the same per-item step as ``forensics analyze``
   (:func:`forensics.evaluate.run_dataset`) on the videos. Whether a folder is in- or cross-source for a
   detector is read from its card's data table.
3. **Cost**: FWA milliseconds per face crop (network only, batch of 32) with ``--threads`` torch threads.

Usage::

    python benchmarks/cross_source.py [--data ../shared/data] [--cache DIR] [--model models/fwa ...]
        [--exclude REGEX ...] [--extra ROOT ...] [--no-in-source] [--no-engine] [--threads 2]
        [--sections fwa,engine,cost]

FaceForensics++ YouTube ids reserved for a separate hold-out are left out by default (``--exclude _183[_.]``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FACE_DETECTORS = ("fwa", "resnext_lstm", "blink_lrcn", "rppg")
FFPP_METHOD = re.compile(r"manipulate/([A-Za-z0-9]+)/")


def _ci(x) -> str:
    return f"({x[0]:.2f}–{x[1]:.2f})" if x else "(n/a)"


def figures(y, p, groups=None) -> dict:
    """AUC and EER with 95 % bootstrap intervals (stratified; over whole ``groups`` when given)."""
    from forensics.api import bootstrap_ci, equal_error_rate, roc_metrics
    from forensics_plugins.fwa.train import clustered_auc_ci

    y, p = np.asarray(y).astype(int), np.asarray(p, dtype=float)
    m = roc_metrics(y, p, ci_resamples=1000, seed=0)
    if m["auc"] is None:
        return m
    eer = (lambda a, b: equal_error_rate(a, b)[0])
    if groups is not None:
        m["auc_ci95"] = clustered_auc_ci(y, p, list(groups))
        m["eer_ci95"] = bootstrap_ci(y, p, statistic=eer, groups=np.asarray(groups))
    else:
        m["eer_ci95"] = bootstrap_ci(y, p, statistic=eer)
    return m


def line(name: str, kind: str, m: dict, unit: str) -> str:
    if m.get("auc") is None:
        return f"  {name:<44} {kind:<22} n={m.get('n_test', 0)} (one class only)"
    return (f"  {name:<44} {kind:<22} AUC {m['auc']:.3f} {_ci(m.get('auc_ci95'))}  EER {m['eer']:.3f} "
            f"{_ci(m.get('eer_ci95'))}  {m['n_test_negative']} real / {m['n_test_positive']} fake {unit}")


def methods_from_manifest(data: Path) -> dict[str, str]:
    """File name -> FF++ method for the shared pack's face_video fakes (from MANIFEST.csv), when present."""
    out = {}
    man = data / "MANIFEST.csv"
    if man.is_file():
        with open(man, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row.get("category") == "face_video" and row.get("label") == "fake":
                    m = FFPP_METHOD.search(row.get("source_path", ""))
                    if m:
                        out[Path(row["relpath"]).name] = m.group(1)
    return out


def score_folder(model, arch: str, size: int, d: Path, cache: Path, ex: list[re.Pattern],
                 methods: dict[str, str] | None = None) -> dict:
    """FWA item scores (detector rule) and face-crop scores of a labelled folder (``real/``, ``fake/``)."""
    from forensics_plugins.fwa.data import extract, media_files
    from forensics_plugins.fwa.infer import aggregate_track
    from forensics_plugins.fwa.train import face_scores

    out = {"y": [], "s": [], "fy": [], "fs": [], "fg": [], "meth": [], "files": [], "skipped": 0}
    for label in (0, 1):
        sub = d / ("fake" if label else "real")
        for p in (media_files(sub) if sub.is_dir() else []):
            if any(r.search(p.name) for r in ex):
                continue
            ff = extract(p, cache)
            if not ff.tracks:
                out["skipped"] += 1
                continue
            tracks = face_scores(model, arch, size, ff)
            out["y"].append(label)
            out["s"].append(max(aggregate_track(q) for _, q in tracks))
            out["meth"].append((methods or {}).get(p.name, "?") if label else "real")
            out["files"].append(ff.sha256)
            for _, q in tracks:
                out["fy"] += [label] * len(q)
                out["fs"] += q
                out["fg"] += [ff.sha256] * len(q)
    return out


def extra_section(model, arch: str, size: int, root: Path, cache: Path, ex: list[re.Pattern]) -> None:
    """Every ``root/<source>/{real,fake}`` folder: per source (where both classes exist), per kind of source
    (the name's first word: faceswap, lipsync, ...; real-only sources join every kind's authentic side) and
    pooled. Files whose SHA-256 repeats are counted once."""
    per: dict[str, dict] = {}
    seen: set[str] = set()
    for d in sorted(x for x in root.iterdir() if x.is_dir() and ((x / "real").is_dir() or (x / "fake").is_dir())):
        sc = score_folder(model, arch, size, d, cache, ex)
        keep = [i for i, h in enumerate(sc["files"]) if h not in seen]
        seen.update(sc["files"])
        per[d.name] = {"y": [sc["y"][i] for i in keep], "s": [sc["s"][i] for i in keep], "skipped": sc["skipped"]}
    print(f"  {root.name}: {len(per)} sources")
    for name, v in per.items():
        if len(set(v["y"])) == 2:
            print(line(f"  {name}", "cross-source", figures(v["y"], v["s"]), "videos"))
    real_y = [0 for v in per.values() for y in v["y"] if y == 0]
    real_s = [s for v in per.values() for y, s in zip(v["y"], v["s"]) if y == 0]
    kinds = sorted({n.split("_")[0] for n, v in per.items() if 1 in v["y"]})
    for k in kinds:
        fy = [1 for n, v in per.items() if n.split("_")[0] == k for y in v["y"] if y == 1]
        fs = [s for n, v in per.items() if n.split("_")[0] == k for y, s in zip(v["y"], v["s"]) if y == 1]
        print(line(f"  all real vs {k} fakes", "cross-source", figures(real_y + fy, real_s + fs), "videos"))
    ally = [y for v in per.values() for y in v["y"]]
    alls = [s for v in per.values() for s in v["s"]]
    print(line(f"  {root.name}: all real vs all fake", "cross-source", figures(ally, alls), "videos")
          + f"; {sum(v['skipped'] for v in per.values())} without a face")


def fwa_section(model_dir: Path, data: Path, cache: Path, exclude: list[str], threads: int,
                extra: tuple[Path, ...] = (), in_source: bool = True) -> None:
    import torch

    from forensics_plugins.fwa.data import extract
    from forensics_plugins.fwa.model import load_weights
    from forensics_plugins.fwa.train import synthetic_eval

    torch.set_num_threads(threads)
    card_path = model_dir / "card.json"
    if not card_path.is_file():
        print(f"FWA model {model_dir.name}: no card.json, skipped")
        return
    card = json.loads(card_path.read_text(encoding="utf-8"))
    from forensics.api import sha256_file

    digest = sha256_file(model_dir / card["files"]["weights"]["path"])
    if digest != card["files"]["weights"]["sha256"]:
        print(f"FWA model {model_dir.name}: weights do not match their card, skipped")
        return
    arch, size = card["arch"], int(card["input_size"])
    model = load_weights(str(model_dir / card["files"]["weights"]["path"]), arch)
    print(f"\nFWA [{model_dir.name}]: negatives={card.get('negatives')}, {card['training'].get('steps')} steps, input "
          f"{size} px, weights {digest[:12]}; rule: {card['aggregation']}")
    ex = [re.compile(r) for r in exclude]
    methods = methods_from_manifest(data)
    for name in ("face_video", "face_image"):
        d = data / name
        if not (d / "real").is_dir() or not (d / "fake").is_dir():
            print(f"  {name}: absent, skipped")
            continue
        sc = score_folder(model, arch, size, d, cache, ex, methods)
        unit = "videos" if name == "face_video" else "images"
        print(line(f"{name} (item: {unit})", "cross-source", figures(sc["y"], sc["s"]), unit)
              + (f"; {sc['skipped']} without a face" if sc["skipped"] else ""))
        if name == "face_video":
            print(line(f"{name} (face crops, files resampled)", "cross-source",
                       figures(sc["fy"], sc["fs"], sc["fg"]), "crops"))
            y_a, s_a, m_a = np.array(sc["y"]), np.array(sc["s"]), np.array(sc["meth"])
            for mth in sorted(set(m_a[y_a == 1])):
                keep = (y_a == 0) | (m_a == mth)
                print(line(f"  {name}: real vs {mth}", "cross-source", figures(y_a[keep], s_a[keep]), unit))
    for root in extra:
        extra_section(model, arch, size, root, cache, ex)
    man = model_dir / "data_manifest.json"
    if in_source and man.is_file():
        rows = json.loads(man.read_text(encoding="utf-8"))["files"]
        roots = {r["root"]: r["root_name"] for r in rows}
        held = [r for r in rows if r["split"] == "heldout"]
        if held and all((data / roots[r["root"]] / r["path"]).is_file() for r in held[:20]):
            faces = []
            for r in held:
                ff = extract(data / roots[r["root"]] / r["path"], cache, r["sha256"])
                fl = [(c[j], lm[j]) for c, lm, _ in ff.tracks for j in range(len(c))][:2]
                faces += fl
            if len(faces) > 400:
                faces = [faces[i] for i in np.unique(np.linspace(0, len(faces) - 1, 400).round().astype(int))]
            for kind in ("sbi", "warp"):
                m = synthetic_eval(model, arch, size, faces, kind, int(card["training"].get("seed", 0)))
                print(line(f"held-out identities + synthetic {kind}", "in-source (synthetic)", m, "faces"))
        else:
            print("  in-source: the training data (face_real) are absent, skipped")


def card_trained_on(det: str, folder: str) -> str:
    """"in-source" when the detector's card lists ``folder`` among its training data, "cross-source" when its
    card lists training data without it, "?" when the card names no training data."""
    from forensics.api import model_card_data

    card = model_card_data(det) or {}
    train = [d for d in (card.get("data") or []) if str(d.get("role", "")).lower().startswith("train")
             or "training" in str(d.get("role", "")).lower()]
    if not train:
        return "?"
    return "in-source" if folder in json.dumps(train) else "cross-source"


def engine_rows(folder: Path, dets: list[str], exclude: list[re.Pattern]) -> list[dict]:
    """Per video: label, each detector's status / probability and the fused verdict, through the same per-item
    step as ``forensics analyze`` (:func:`forensics.engine.analyze_item`, then :func:`forensics.fusion.fuse`)."""
    from forensics import fusion
    from forensics.engine import analyze_item
    from forensics.media import open_media
    from forensics.plugins import load_plugins

    selected = load_plugins().select(dets)
    rows = []
    for label in (0, 1):
        for p in sorted((folder / ("fake" if label else "real")).iterdir()):
            if not p.is_file() or any(r.search(p.name) for r in exclude):
                continue
            media = open_media(p, hashed=True)
            row = {"file": p.name, "label": label, "findings": [], "fused": None}
            if media.item.is_media:
                r = analyze_item(media.item, selected, media=media)
                if r.decoded and r.findings:
                    row["findings"] = [{"detector": f.detector, "status": f.status.value, "probability": f.probability}
                                       for f in r.findings]
                    v = fusion.fuse(r.findings)
                    row["fused"] = {"probability": v["probability"]}
            rows.append(row)
            del media
    return rows


def engine_section(data: Path, exclude: list[str]) -> None:
    from forensics.plugins import load_plugins

    d = data / "face_video"
    if not (d / "real").is_dir():
        print("\nEngine: face_video absent, skipped")
        return
    present = [ld.detector.name for ld in load_plugins().select(None)]
    dets = [x for x in FACE_DETECTORS if x in present]
    t0 = time.time()
    rows = engine_rows(d, dets, [re.compile(r) for r in exclude])
    print(f"\nEngine (the per-item step of `forensics analyze`) on face_video: {len(rows)} videos, "
          f"{time.time() - t0:.0f} s; detectors {', '.join(dets)} + fused verdict")
    for det in [*dets, "fused"]:
        y, p, status = [], [], {}
        for r in rows:
            if det == "fused":
                f = r.get("fused")
                st = "ran" if f and f.get("probability") is not None else "no verdict"
                prob = f.get("probability") if f else None
            else:
                f = next((x for x in r["findings"] if x["detector"] == det), None)
                st = f["status"] if f else "absent"
                prob = f["probability"] if f and f["status"] == "ran" else None
            status[st] = status.get(st, 0) + 1
            if prob is not None:
                y.append(r["label"])
                p.append(prob)
        kind = "(fusion)" if det == "fused" else card_trained_on(det, "face_video")
        sts = ", ".join(f"{k} {v}" for k, v in sorted(status.items()))
        if len(set(y)) == 2:
            print(line(det, kind, figures(y, p), "videos") + f"  [{sts}]")
        else:
            print(f"  {det:<44} {kind:<22} no figure: {sts}")


def cost_section(model_dir: Path, threads: int) -> None:
    import torch

    from forensics_plugins.fwa.model import load_weights, predict

    card_path = model_dir / "card.json"
    if not card_path.is_file():
        return
    card = json.loads(card_path.read_text(encoding="utf-8"))
    torch.set_num_threads(threads)
    model = load_weights(str(model_dir / card["files"]["weights"]["path"]), card["arch"])
    size = int(card["input_size"])
    x = (np.random.default_rng(0).random((32, size, size, 3)) * 255).astype(np.uint8)
    predict(model, card["arch"], x[:4])
    times = []
    for _ in range(3):
        t = time.perf_counter()
        predict(model, card["arch"], x)
        times.append((time.perf_counter() - t) / len(x) * 1000)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nCost: FWA network {np.median(times):.1f} ms per face crop ({size} px, batch 32, {threads} torch "
          f"thread(s), load average {load:.1f}); a video costs up to {card.get('frames_per_track', 32)} crops per "
          "face track on top of the shared face pipeline")
    from forensics_plugins.fwa import consistency

    lm = _synthetic_landmarks(size)
    consistency.features(x[0], lm)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        for im in x:
            consistency.features(im, lm)
        times.append((time.perf_counter() - t) / len(x) * 1000)
    print(f"Cost: inner-vs-outer consistency features (forensics_plugins.fwa.consistency, "
          f"{consistency.N_FEATURES} features; ablation only, not in the shipped model) {np.median(times):.1f} ms "
          f"per face crop ({size} px, one thread)")


def _synthetic_landmarks(size: int) -> np.ndarray:
    """68 points on an ellipse filling the middle of a ``size`` crop (brows on top), for timing only."""
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    lm = np.stack([size / 2 + 0.38 * size * np.cos(t), size * 0.55 + 0.4 * size * np.sin(t)], axis=1)
    lm[17:27, 1] = size * 0.2
    return lm.astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "forensics" / "fwa-faces")
    ap.add_argument("--model", type=Path, action="append", default=None, help="FWA model folder(s)")
    ap.add_argument("--exclude", action="append", default=None, help="regex on file names to leave out")
    ap.add_argument("--extra", type=Path, action="append", default=[],
                    help="folder of labelled sources (ROOT/<source>/{real,fake}) to measure FWA on as well")
    ap.add_argument("--no-in-source", action="store_true", help="skip the in-source synthetic figures")
    ap.add_argument("--no-engine", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sections", default="fwa,engine,cost", help="comma-separated subset of fwa,engine,cost")
    a = ap.parse_args(argv)
    sections = set(a.sections.split(","))
    exclude = a.exclude if a.exclude is not None else [r"_183[_.]"]
    print(f"data: {a.data.name} (left out: {', '.join(exclude) or 'nothing'})")
    if "fwa" in sections:
        for m in a.model or [ROOT / "models" / "fwa"]:
            fwa_section(m, a.data, a.cache, exclude, a.threads, tuple(a.extra), not a.no_in_source)
    if "engine" in sections and not a.no_engine:
        engine_section(a.data, exclude)
    if "cost" in sections:
        cost_section((a.model or [ROOT / "models" / "fwa"])[0], a.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
