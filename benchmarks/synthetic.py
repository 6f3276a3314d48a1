"""Inference cost of the synthetic-image detector on a 1-megapixel image, and its measured AUCs.

Writes a generated 1152×868 JPEG (≈ 1.0 MP; scikit-image's public-domain astronaut, resized), loads the
installed ``models/synthetic`` once (timed separately: backbone construction + hash check), then times,
median of ``--repeat`` runs after one warm-up:

* decode: reading the file through ``open_media`` (as the engine does);
* canonical: resizing to the detector's input;
* spectral / residual / npr / backbone: each cue's features (backbone = the frozen EfficientNet-Lite0 forward
  pass that gives the probe and the multi-scale stage statistics);
* heat map: the cues on the overlapping windows of the heat map;
* analyze: the whole ``SyntheticDetector.analyze`` call (decode, all cues, combination, heat map, spectral plot).

Then prints the leave-one-generator-out AUCs (95 % CI) of each cue of the installed model alone, the
combined detector and the format-only baseline, as recorded in the model card by ``forensics train synthetic``
(the command is printed with them), and the voting gate's verdict.

Usage::

    python benchmarks/synthetic.py [--threads 2] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def _ms(f, repeat: int) -> tuple[float, object]:
    out = f()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times), out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2: the target machine); "
                    "on a machine shared with other jobs, also try 1 (sleeping worker threads wake up late)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    import cv2
    import skimage.data
    import torch
    from PIL import Image

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)

    from forensics import models
    from forensics.api import load_card, open_media
    from forensics_plugins.synthetic import SyntheticDetector, _load, window_scores
    from forensics_plugins.synthetic.features import (
        canonical,
        image_features,
        npr_features,
        probe_maps,
        residual_features,
        spectral_features,
    )
    from forensics_plugins.synthetic.model import voting_gate

    rgb = cv2.resize(skimage.data.astronaut(), (1152, 868), interpolation=cv2.INTER_CUBIC)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "one_megapixel.jpg"
        Image.fromarray(rgb).save(path, quality=90)
        t = time.perf_counter()
        card = load_card("synthetic")
        model, backbone = card.load("weights", _load)
        load_ms = 1000 * (time.perf_counter() - t)
        det = SyntheticDetector()

        def decode():
            return open_media(path).image_rgb()

        def analyze():
            media = open_media(path)
            return det.analyze(media.item, media)

        dec, img = _ms(decode, args.repeat)
        can, x = _ms(lambda: canonical(img), args.repeat)
        spe, _ = _ms(lambda: spectral_features(x), args.repeat)
        res, _ = _ms(lambda: residual_features(x), args.repeat)
        npr, _ = _ms(lambda: npr_features(x), args.repeat)
        pro, _ = _ms(lambda: probe_maps(backbone, x), args.repeat)
        full = image_features(x, backbone, keep_maps=True)
        win, _ = _ms(lambda: window_scores(x, full, model), args.repeat)
        whole, finding = _ms(analyze, args.repeat)
    del models
    print(f"synthetic detector, {rgb.shape[1]}×{rgb.shape[0]} JPEG ({rgb.shape[0] * rgb.shape[1] / 1e6:.2f} MP), "
          f"{args.threads} torch thread(s), median of {args.repeat}")
    print(f"  model load (once per process): {load_ms:8.1f} ms")
    for name, v in (("decode", dec), ("canonical", can), ("spectral", spe), ("residual", res), ("npr", npr),
                    ("backbone (probe + stage statistics)", pro), ("heat map windows", win),
                    ("analyze (all, with heat map and plot)", whole)):
        print(f"  {name:<40s} {v:8.1f} ms")
    print(f"  finding: {finding.status.value}" + (f", P = {finding.probability:.3f}" if finding.probability is not None
                                                  else ""))
    print(f"  target < 500 ms per 1 MP image: {'met' if whole < 500 else 'NOT met'}")

    data = card.data
    print("\nLeave-one-generator-out AUC (95 % CI) from the model card; produced by:")
    print(f"  {data['training']['command']}")
    cols = ("stacked", *model.cue_names, "format")

    def cell(m):
        ci = m.get("auc_ci95")
        return f"{m['auc']:.3f} ({ci[0]:.2f}-{ci[1]:.2f})" if m.get("auc") is not None and ci else "n/a"

    print(f"  {'held out':<22s}" + "".join(f"{c + (' baseline' if c == 'format' else ''):>22s}" for c in cols))
    for g, r in data.get("per_generator", {}).items():
        print(f"  {g:<22s}" + "".join(f"{cell(r[c]):>22s}" for c in cols))
    for dom, r in data.get("by_domain", {}).items():
        print(f"  {'[' + dom + ']':<22s}" + "".join(f"{cell(r[c]):>22s}" for c in cols))
    m = data["metrics"]
    print(f"  headline ({m['kind']}): AUC {cell(m)} [{m.get('auc_ci95_kind', 'bootstrap over files')}; over files "
          f"{cell({'auc': m['auc'], 'auc_ci95': m.get('auc_ci95_files')})}], n = {m['n_test_negative']} real / "
          f"{m['n_test_positive']} generated")
    ok, why = voting_gate(m, data["format_baseline"]["logo"]["auc"])
    print(f"  voting gate: {'votes' if ok else 'does not vote'} ({why})")
    print("  format baseline within each source (5-fold, in-source): "
          + json.dumps({g: r["auc"] for g, r in data["format_baseline"]["within_source"].items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
