"""JPEG forensics benchmark: image-level AUC, pixel-level F1/MCC of the DQ map, ms per megapixel.

Generates one authentic + one spliced JPEG per host photo with the ``jpeg_dq`` training generator
(``forensics_plugins/jpeg_dq/train.py make_pair``: host → q1 → [splice of a donor saved at q2] → qf, a quarter
of the hosts saved once) and scores them with the installed ``jpeg_dq`` model and, for comparison, the installed
ELA calibrator on the same files. Hosts: scikit-image's sample photos (always there) plus ``--data`` folders.

* image level: AUC with a bootstrap 95 % interval, for all pairs and per compression regime;
* pixel level: F1 and MCC of the aligned-DQ map (P(no DQ) > 0.5, 8×8 blocks) against the true splice mask
  (pixels the paste changed), pooled over the spliced images in which aligned DQ was detected, and per image;
* cost: ms per megapixel of the whole jpeg_dq analysis (coefficients, three maps, features), median.

Usage::

    python benchmarks/jpeg_forensics.py [--data DIR ...] [--max-hosts 200] [--seed 5]

Note: if ``--data`` names a source the model was fitted on, the AUC is not a cross-source figure; the
model card (`models/jpeg_dq/MODEL_CARD.md`) says which sources those are.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def mcc(tp: float, fp: float, fn: float, tn: float) -> float:
    tp, fp, fn, tn = map(float, (tp, fp, fn, tn))  # Python ints overflow NumPy's int64 here
    d = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return float((tp * tn - fp * fn) / d) if d > 0 else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", action="append", default=[], type=Path, help="extra folder(s) of authentic host photos")
    ap.add_argument("--max-hosts", type=int, default=200, help="hosts drawn at most from each --data folder")
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args(argv)

    from forensics.api import decode_image, load_card, load_rgb, roc_metrics
    from forensics_plugins.ela.ela import Calibrator as ElaCalibrator
    from forensics_plugins.ela.ela import features as ela_features
    from forensics_plugins.jpeg_dq import _load_model
    from forensics_plugins.jpeg_dq.train import builtin_images, image_features, list_images, make_pair, regime

    paths = builtin_images()
    rng = np.random.default_rng(a.seed)
    for d in a.data:
        p = list_images([d])
        if len(p) > a.max_hosts:
            p = sorted(rng.choice(p, a.max_hosts, replace=False).tolist())
        paths += [Path(x) for x in p]
    card = load_card("jpeg_dq")
    model = _load_model(card.path("weights"))
    ela_card = load_card("ela")
    ela = ElaCalibrator.from_json(json.loads(ela_card.path("weights").read_text(encoding="utf-8")))

    y, p_dq, p_ela, regimes, shapes, feats_all = [], [], [], [], [], []
    tp = fp = fn = tn = 0
    per_image_f1, ms_per_mp = [], []
    for i, path in enumerate(paths):
        r = np.random.default_rng([a.seed, i])
        j = int(r.integers(0, len(paths) - 1))
        pair = make_pair(load_rgb(path), load_rgb(paths[j + (j >= i)]), r)
        for label, key in ((0, "authentic"), (1, "spliced")):
            t0 = time.perf_counter()
            feats, maps = image_features(pair[key])
            dt = time.perf_counter() - t0
            h, w = pair["mask"].shape
            ms_per_mp.append(1000 * dt / (h * w / 1e6))
            y.append(label)
            regimes.append(regime(pair["q1"], pair["qf"]))
            by, bx, bh, bw = pair["box"]
            fill = pair["mask"][by:by + bh, bx:bx + bw].mean()
            shapes.append("paste fills >= 90 % of its box (rectangles, feathered ellipses)" if fill > 0.9
                          else "paste fills < 90 % of its box (hard-edged ellipses)")
            feats_all.append(feats)
            p_dq.append(model.probability(model.decision(feats)))
            p_ela.append(ela.probability(ela_features(decode_image(pair[key]))[0]))
            if label == 1 and maps["p_map"] is not None:
                pm = np.kron(maps["p_map"] > 0.5, np.ones((8, 8), dtype=bool))
                truth = pair["mask"][: pm.shape[0], : pm.shape[1]]
                pm = pm[: truth.shape[0], : truth.shape[1]]
                a_tp, a_fp = int((pm & truth).sum()), int((pm & ~truth).sum())
                a_fn, a_tn = int((~pm & truth).sum()), int((~pm & ~truth).sum())
                tp, fp, fn, tn = tp + a_tp, fp + a_fp, fn + a_fn, tn + a_tn
                per_image_f1.append(2 * a_tp / max(2 * a_tp + a_fp + a_fn, 1))
    y, p_dq, p_ela, regimes, shapes = map(np.asarray, (y, p_dq, p_ela, regimes, shapes))
    sources = "scikit-image sample photos" + "".join(f" + {'/'.join(Path(d).resolve().parts[-2:])}" for d in a.data)
    print(f"jpeg_forensics benchmark: {len(paths)} hosts ({sources}), {len(y)} JPEGs, seed {a.seed}")
    print(f"jpeg_dq model: {card.model_ref()['files']['weights']['sha256'][:16]}…; ELA: "
          f"{ela_card.model_ref()['files']['weights']['sha256'][:16]}…")

    def line(name, rows):
        for det, p in (("jpeg_dq", p_dq), ("ela", p_ela)):
            m = roc_metrics(y[rows], p[rows])
            ci = m.get("auc_ci95")
            auc = "n/a" if m["auc"] is None else f"{m['auc']:.3f}"
            ci_s = f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "n/a"
            print(f"  {det:8s} image AUC {auc} (95 % CI {ci_s}), n = {int(rows.sum())} ({name})")

    line("all pairs", np.ones(len(y), dtype=bool))
    for reg in sorted(set(regimes)):
        line(reg, regimes == reg)
    for shape in sorted(set(shapes)):
        line(shape, np.repeat(shapes.reshape(-1, 2)[:, 1] == shape, 2))  # the pair's spliced image decides
    from forensics_plugins.jpeg_dq.dq import FEATURES

    X = np.asarray(feats_all)
    single = ", ".join(f"{f} {roc_metrics(y, X[:, k], ci_resamples=0)['auc']:.3f}" for k, f in enumerate(FEATURES))
    print(f"  single-feature AUCs (all pairs): {single}")
    prec = tp / max(tp + fp, 1)
    rec = tp / max(tp + fn, 1)
    f1 = 2 * prec * rec / max(prec + rec, 1e-12)
    n_loc = len(per_image_f1)
    print(f"  DQ map vs mask (spliced images where aligned DQ was detected: {n_loc} of {int(y.sum())}): pooled pixel "
          f"F1 {f1:.3f}, MCC {mcc(tp, fp, fn, tn):.3f}, precision {prec:.3f}, recall {rec:.3f}; "
          f"median per-image F1 {statistics.median(per_image_f1) if per_image_f1 else float('nan'):.3f}")
    print(f"  cost: {statistics.median(ms_per_mp):.0f} ms per megapixel (median over {len(ms_per_mp)} images; "
          "coefficients, DQ, block grid, 10 ghost re-saves, features)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
