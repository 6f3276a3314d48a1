"""Calibrate the ELA detector on splices generated from authentic photos.

For each authentic *host* photo we make a matched pair with the same compression
history, differing only in the pasted region:

* authentic: host saved at quality Q1 ("camera"), decoded, saved again at Q_final;
* spliced:   host saved at Q1, decoded; a region of a *donor* photo saved at a
  different quality Q2 (optionally resampled, pasted off the 8×8 grid) is pasted
  in with a feathered or hard mask; the result is saved at Q_final.

The split into training and held-out data is by host photo (no host appears in
both), and the metrics reported are on the held-out part only.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from forensics.api import decode_image as decode
from forensics.api import jpeg_bytes, load_rgb, make_splice, roc_metrics

from .ela import FEATURES, Calibrator, features

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"}
# scikit-image's bundled photos used for training; astronaut/coffee/chelsea are kept
# out because the demo case is made from them.
BUILTIN_TRAINING = ("rocket.jpg", "hubble_deep_field.jpg", "motorcycle_left.png", "motorcycle_right.png",
                    "ihc.png", "retina.jpg", "color.png")


def make_pair(host: np.ndarray, donor: np.ndarray, rng: np.random.Generator) -> tuple[bytes, bytes]:
    """An (authentic JPEG, spliced JPEG) pair sharing the host's compression history."""
    q1 = int(rng.integers(70, 98))
    q2 = int(rng.choice([q for q in range(60, 100) if abs(q - q1) >= 8]))
    qf = int(rng.integers(70, 99))
    # a third of the pairs are saved only once (no earlier "camera" JPEG): an authentic photo
    # saved once, at or near the ELA re-save quality, must not look anomalous.
    camera = decode(jpeg_bytes(host, q1)) if rng.random() >= 1 / 3 else host
    spliced, _ = make_splice(camera, donor, rng, q1, q2)
    return jpeg_bytes(camera, qf), jpeg_bytes(spliced, qf)


def list_images(dirs: Iterable[Path]) -> list[Path]:
    out = []
    for d in dirs:
        for root, _dirs, files in os.walk(d):
            out += [Path(root) / f for f in files if os.path.splitext(f)[1].lower() in IMAGE_EXT]
    return sorted(out)


def builtin_images() -> list[Path]:
    import skimage.data

    base = Path(skimage.data.__file__).parent
    return [base / n for n in BUILTIN_TRAINING if (base / n).exists()]


def build_dataset(paths: list[Path], per_image: int, seed: int, echo: Callable[[str], None]) -> tuple:
    rng = np.random.default_rng(seed)
    hosts = [load_rgb(p) for p in paths]
    X, y, group = [], [], []
    t0 = time.time()
    for i, host in enumerate(hosts):
        for _ in range(per_image):
            j = int(rng.integers(0, len(hosts) - 1))
            donor = hosts[j + (j >= i)]
            auth, fake = make_pair(host, donor, rng)
            for label, data in ((0, auth), (1, fake)):
                X.append(features(decode(data))[0])
                y.append(label)
                group.append(i)
        if (i + 1) % 100 == 0:
            echo(f"  {i + 1}/{len(hosts)} host photos ({time.time() - t0:.0f} s)")
    return np.array(X), np.array(y), np.array(group)


def train(data_dirs: list[Path], out_dir: Path, per_image: int = 2, include_builtin: bool = True, seed: int = 0,
          echo: Callable[[str], None] = print) -> dict:
    from sklearn.linear_model import LogisticRegression

    from forensics.models import write_card

    paths = list_images(data_dirs) + (builtin_images() if include_builtin else [])
    if len(paths) < 10:
        raise SystemExit(f"need at least 10 authentic photos, found {len(paths)}")
    echo(f"generating {per_image} authentic/spliced pairs from each of {len(paths)} photos (seed {seed})")
    X, y, g = build_dataset(paths, per_image, seed, echo)
    hosts = np.random.default_rng(seed + 1).permutation(len(paths))
    test_hosts = set(hosts[: max(2, int(0.3 * len(paths)))].tolist())
    test = np.array([gi in test_hosts for gi in g])
    lo, hi = np.percentile(X[~test], 0.5, axis=0), np.percentile(X[~test], 99.5, axis=0)
    Xtr = np.clip(X[~test], lo, hi)
    mean, scale = Xtr.mean(0), Xtr.std(0) + 1e-9
    clf = LogisticRegression(C=1.0, max_iter=1000).fit((Xtr - mean) / scale, y[~test])
    cal = Calibrator(mean, scale, clf.coef_[0], clf.intercept_[0], lo, hi)
    p_test = np.array([cal.probability(x) for x in X[test]])
    metrics = roc_metrics(y[test], p_test)
    p_train = np.array([cal.probability(x) for x in X[~test]])
    train_metrics = roc_metrics(y[~test], p_train)
    # Refit on everything for the shipped model? No: ship exactly the model that was measured.
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "ela_calibrator.json").write_text(json.dumps(cal.to_json(), indent=2) + "\n", encoding="utf-8")
    sources = sorted({str(d) for d in data_dirs})
    dataset = (f"held-out {len(test_hosts)} of {len(paths)} authentic host photos ({', '.join(sources)}"
               f"{' + scikit-image sample photos' if include_builtin else ''}), each giving {per_image} authentic and "
               f"{per_image} generated spliced JPEGs")
    metrics["dataset"] = dataset
    metrics["command"] = ("forensics train ela " + " ".join(f"--data {d}" for d in sources)
                          + f" --per-image {per_image} --seed {seed}")
    card = {
        "name": "ela",
        "version": "1.0.0",
        "architecture": f"logistic regression over {len(FEATURES)} ELA block-statistics features (standardised)",
        "features": list(FEATURES),
        "files": {"weights": {"path": "ela_calibrator.json"}},
        "training": {
            "host_photos": len(paths),
            "train_hosts": len(paths) - len(test_hosts),
            "test_hosts": len(test_hosts),
            "pairs_per_host": per_image,
            "n_train": int((~test).sum()),
            "seed": seed,
            "generator": "forensics_plugins/ela/train.py make_pair: 2/3 with a first save at Q1∈[70,97], donor Q2 with |Q2−Q1|≥8, final Q∈[70,98], "
                         "region 4–25 % of the image, 50 % resampled ×0.6–1.5, 50 % elliptical, 50 % feathered",
        },
        "metrics": metrics,
        "train_metrics": {k: train_metrics[k] for k in ("auc", "eer", "accuracy")},
        "licence": "weights: Apache-2.0; training photos keep their own licences (see the model card)",
    }
    md = MODEL_CARD.format(
        paths=len(paths), sources="\n".join(f"- `{s}`" for s in sources) or "- (none)",
        builtin="yes" if include_builtin else "no", per_image=per_image, test_hosts=len(test_hosts),
        n_train=int((~test).sum()), **{k: metrics[k] for k in ("auc", "eer", "accuracy", "n_test")},
        tr_auc=train_metrics["auc"], conf=json.dumps(metrics["confusion"]), command=metrics["command"],
        features="\n".join(f"- `{f}`" for f in FEATURES),
    )
    write_card(out_dir, card, md)
    echo(f"held-out: AUC {metrics['auc']:.3f}, EER {metrics['eer']:.3f}, accuracy {metrics['accuracy']:.3f} "
         f"on {metrics['n_test']} images; wrote {out_dir}")
    return metrics


MODEL_CARD = """# Model card: `ela` calibrator

**Detector:** `forensics_plugins/ela` (error-level analysis, Krawetz 2007).
**Model:** logistic regression over standardised ELA features; stored as plain JSON
(`ela_calibrator.json`, SHA-256 in `card.json`). No pickles.

## Features
{features}

ELA map: `|image − JPEG(image, q=90)|`, averaged over RGB. Blocks are the 8×8 JPEG grid.
"Ratio" = block error level / (block mean |Laplacian| + 2): error that texture does not
explain. Robust z-scores use the median and MAD over all blocks. The "ghost" feature
repeats the ratio statistic at a re-save quality of 75.

## Training data
{paths} authentic host photos:
{sources}
- scikit-image sample photos (rocket, hubble_deep_field, motorcycle_left/right, ihc, retina, color): {builtin}

For each host, {per_image} matched pairs are generated (`forensics_plugins/ela/train.py`):
authentic = host → JPEG Q1 → JPEG Qf; spliced = host → JPEG Q1, + region of another
photo that went through JPEG Q2 (|Q2−Q1| ≥ 8), optionally resampled, pasted off-grid,
→ JPEG Qf (for a third of the pairs the host has no first JPEG save). Features are
clipped to the 0.5–99.5 percentile range seen in training, so the linear model does not
extrapolate on unusual images. Only the pasted region differs, so the model cannot learn the compression
history of the whole file instead of the splice.

Licence note: `../shared/data/face_image/real` are Unsplash portraits from a Kaggle
research data set (see `../shared/data/MANIFEST.csv`); weights trained on them are for
research use. The photos themselves are not distributed with forensics.

## Evaluation (held-out hosts, never seen in training)
- {test_hosts} host photos held out, {n_test} test images (half spliced)
- **AUC {auc:.3f}**, **EER {eer:.1%}**, accuracy at p ≥ 0.5: {accuracy:.1%}
- confusion at 0.5: {conf}
- training-split AUC (for over-fitting check): {tr_auc:.3f}

Reproduce: `{command}`

## Limits
- ELA is a visual aid first (FotoForensics, Forensically): error level depends on
  texture, edges and colour; the map must be read by an examiner.
- The splices are synthetic. Careful real forgeries (same quality for the pasted
  region, whole-image resave at low quality, resizing after editing, social-media
  recompression) leave little ELA signal: expect more misses than the figures above.
- Measured on ≤640 px photos; very large or very small images are outside the data.
- Not applicable to PNG/TIFF/WebP: lossless or other codecs give no comparable error levels.
"""
