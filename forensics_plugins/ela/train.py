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
from typing import Callable

import numpy as np

from forensics.api import builtin_photos, jpeg_bytes, list_images, load_rgb, make_splice, roc_metrics, write_model_card
from forensics.api import decode_image as decode

from .ela import FEATURES, Calibrator, features

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


def make_double_pair(host: np.ndarray, donor: np.ndarray, rng: np.random.Generator) -> tuple[bytes, bytes]:
    """A harder (authentic, spliced) pair, the distribution of the ``jpeg_dq`` generator: a third of the hosts
    downsized ×0.55–0.9 and saved once, else saved at q1∈[60,95] first; donor q2∈[50,98] with |q2−q1|≥5; last
    save qf∈[60,98] (so half of the files are re-saved at a lower quality)."""
    import cv2

    single = bool(rng.random() < 1 / 3)
    q1 = int(rng.integers(60, 96))
    q2 = int(rng.choice([q for q in range(50, 99) if abs(q - q1) >= 5]))
    qf = int(rng.integers(60, 99))
    if single:
        s = float(rng.uniform(0.55, 0.9))
        host = cv2.resize(host, (max(64, round(host.shape[1] * s)), max(64, round(host.shape[0] * s))),
                          interpolation=cv2.INTER_AREA)
    camera = host if single else decode(jpeg_bytes(host, q1))
    spliced, _ = make_splice(camera, donor, rng, q1, q2)
    return jpeg_bytes(camera, qf), jpeg_bytes(spliced, qf)


def builtin_images() -> list[Path]:
    return builtin_photos(BUILTIN_TRAINING)


def build_dataset(paths: list[Path], per_image: int, seed: int, echo: Callable[[str], None],
                  only_hosts: set[int] | None = None, pair: Callable = make_pair) -> tuple:
    """ELA features of ``per_image`` authentic/spliced pairs per host; ``only_hosts`` computes features for those
    hosts only (the pairs of the others are still generated, so the random sequence is the same)."""
    rng = np.random.default_rng(seed)
    hosts = [load_rgb(p) for p in paths]
    X, y, group = [], [], []
    t0 = time.time()
    for i, host in enumerate(hosts):
        for _ in range(per_image):
            j = int(rng.integers(0, len(hosts) - 1))
            donor = hosts[j + (j >= i)]
            auth, fake = pair(host, donor, rng)
            if only_hosts is not None and i not in only_hosts:
                continue
            for label, data in ((0, auth), (1, fake)):
                X.append(features(decode(data))[0])
                y.append(label)
                group.append(i)
        if (i + 1) % 100 == 0:
            echo(f"  {i + 1}/{len(hosts)} host photos ({time.time() - t0:.0f} s)")
    return np.array(X), np.array(y), np.array(group)


def _split(n_paths: int, seed: int) -> set[int]:
    hosts = np.random.default_rng(seed + 1).permutation(n_paths)
    return set(hosts[: max(2, int(0.3 * n_paths))].tolist())


def _name(d: Path) -> str:
    return "/".join(Path(os.path.abspath(d)).parts[-2:])


KNOWN_SOURCES = {
    "face_image/real": ("Unsplash portraits (Kaggle 'hard fake vs real faces', real class)",
                        "project's shared data face_image/real (300×300 JPEG)", "research / non-commercial"),
    "face_real/lfw": ("LFW (Labeled Faces in the Wild) crops", "baileyfriend/Gender-Image-Classifier via the "
                      "project's shared data (face_real/lfw: 192×192 JPEG q90)", "LFW: research use"),
}


def measure_cross(cal: Calibrator, dirs: list[Path], per_image: int, seed: int, max_hosts: int | None,
                  echo: Callable[[str], None]) -> dict[str, dict]:
    """AUC (with bootstrap interval) of ``cal`` on splices generated from hosts of sources it never saw, with the
    training generator and with the harder double-compression generator (:func:`make_double_pair`)."""
    paths = list_images(dirs)
    if max_hosts and len(paths) > max_hosts:
        paths = sorted(np.random.default_rng(seed + 7).choice(paths, max_hosts, replace=False).tolist())
    if len(paths) < 10:
        return {}
    out = {}
    names = ", ".join(_name(d) for d in dirs)
    for key, gen, what in (("cross-source", make_pair, "the training generator"),
                           ("cross-source, harder generator", make_double_pair,
                            "the jpeg_dq generator: downsized single saves, last save often at a lower quality")):
        X, y, _ = build_dataset([Path(p) for p in paths], per_image, seed + 100, echo, pair=gen)
        m = roc_metrics(y, np.array([cal.probability(x) for x in X]))
        m.update(kind="cross-source", dataset=f"splices generated with {what} from {len(paths)} hosts of {names}, "
                 "a source never used for fitting")
        out[key] = m
    return out


def ela_card(cal_paths: int, sources: list[str], include_builtin: bool, per_image: int, test_hosts: int, seed: int,
             in_source: dict, train_metrics: dict, cross: dict[str, dict], command: str, cross_sources: list[str],
             counts: dict[str, int] | None = None, keep_weights: bool = False) -> dict:
    """The ELA model card (rendered by the one template, ``forensics.api.write_model_card``)."""
    # the headline (what reports quote and what decides whether ELA votes) is the least favourable cross-source figure
    headline = min(cross.values(), key=lambda m: (m.get("auc_ci95") or [0])[0]) if cross else in_source
    ci = headline.get("auc_ci95")
    votes = bool(ci and ci[0] > 0.5)
    data = []
    for s in sources:
        title, src, lic = KNOWN_SOURCES.get(s, (s, s, "see the source"))
        data.append({"name": title, "role": "fitting + in-source held-out", "source": src, "licence": lic,
                     "count": (counts or {}).get(s),
                     "label": "authentic hosts; spliced versions generated, so labels are known"})
    if include_builtin:
        data.append({"name": "scikit-image sample photos", "role": "fitting + in-source held-out",
                     "source": "scikit-image data folder (" + ", ".join(Path(b).stem for b in BUILTIN_TRAINING) + ")",
                     "count": len(BUILTIN_TRAINING), "licence": "public domain / CC0 (scikit-image)",
                     "label": "authentic hosts; spliced versions generated"})
    for s in cross_sources:
        title, src, lic = KNOWN_SOURCES.get(s, (s, s, "see the source"))
        data.append({"name": title, "role": "cross-source test only", "source": src, "licence": lic,
                     "count": next(iter(cross.values())).get("n_test", 0) // (2 * per_image) if cross else None,
                     "label": "authentic hosts; spliced versions generated"})
    return {
        "name": "ela",
        "version": "1.0.0",
        "title": "ela: error-level analysis calibrator",
        "detector": "forensics_plugins.ela",
        "method": "Error-level analysis (N. Krawetz, 'A Picture's Worth', Black Hat 2007).",
        "summary": (f"Logistic regression over {len(FEATURES)} standardised ELA block statistics, stored as plain JSON "
                    "(`ela_calibrator.json`). ELA is first a visual aid: the map is always shown."),
        "status": ("votes: its least favourable cross-source AUC interval excludes 0.5" if votes else
                   "does not vote: the headline AUC interval includes 0.5 (or has none), so the detector returns "
                   "inconclusive with its maps"),
        "architecture": "Features:\n\n" + "\n".join(f"- `{f}`" for f in FEATURES),
        "metrics": headline,
        "evaluations": {"held-out hosts, same sources as fitting": in_source, **cross},
        "train_metrics": {k: train_metrics.get(k) for k in ("auc", "eer", "accuracy")},
        "data": data,
        "training": {"command": command, **({"weights": "fitted by the same command without --keep-weights (seed 0); "
                                                        "--keep-weights re-measures them on the identical split"}
                                            if keep_weights else {}),
                     "host_photos": cal_paths, "test_hosts": test_hosts,
                     "train_hosts": cal_paths - test_hosts, "pairs_per_host": per_image, "seed": seed,
                     "generator": "forensics_plugins/ela/train.py make_pair: 2/3 with a first save at Q1∈[70,97], "
                                  "donor Q2 with |Q2−Q1|≥8, final Q∈[70,98], region 4–25 % of the image, 50 % "
                                  "resampled ×0.6–1.5, 50 % elliptical, 50 % feathered"},
        "sections": [{"title": "Features", "body": (
            "ELA map: `|image − JPEG(image, q=90)|`, averaged over RGB, on the 8×8 JPEG grid. \"Ratio\" = block error "
            "level / (block mean |Laplacian| + 2): error that texture does not explain. Robust z-scores use the median "
            "and MAD over all blocks; the \"ghost\" feature repeats the ratio statistic at a re-save quality of 75. "
            "Features are clipped to the 0.5–99.5 percentile range seen in training. Only the pasted region differs "
            "between the two images of a pair, so the model cannot learn the compression history of the whole file.")}],
        "limitations": [
            "ELA is a visual aid first (FotoForensics, Forensically): error level depends on texture, edges and colour.",
            "The splices are synthetic; careful real forgeries (same quality, resizing, social-media recompression) "
            "leave little ELA signal.",
            "Measured on ≤ 640 px photos. Not applicable to PNG/TIFF/WebP.",
        ],
        "files": {"weights": {"path": "ela_calibrator.json"}},
        "licence": "weights: Apache-2.0; training photos keep their own licences (see Data)",
    }


def train(data_dirs: list[Path], out_dir: Path, per_image: int = 2, include_builtin: bool = True, seed: int = 0,
          echo: Callable[[str], None] = print, cross_dirs: list[Path] | None = None, cross_max_hosts: int | None = 300,
          keep_weights: bool = False, command: str = "") -> dict:
    """Fit (or, with ``keep_weights``, re-measure the shipped calibrator on the identical split) and write the card."""
    from sklearn.linear_model import LogisticRegression

    paths = list_images(data_dirs) + (builtin_images() if include_builtin else [])
    if len(paths) < 10:
        raise SystemExit(f"need at least 10 authentic photos, found {len(paths)}")
    test_hosts = _split(len(paths), seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / "ela_calibrator.json"
    if keep_weights:
        cal = Calibrator.from_json(json.loads(weights.read_text(encoding="utf-8")))
        echo(f"re-measuring the shipped calibrator on the held-out {len(test_hosts)} of {len(paths)} hosts (seed {seed})")
        X, y, g = build_dataset(paths, per_image, seed, echo, only_hosts=test_hosts)
        test = np.ones(len(y), dtype=bool)
        old = json.loads((out_dir / "card.json").read_text(encoding="utf-8"))
        train_metrics = old.get("train_metrics") or {}
    else:
        echo(f"generating {per_image} authentic/spliced pairs from each of {len(paths)} photos (seed {seed})")
        X, y, g = build_dataset(paths, per_image, seed, echo)
        test = np.array([gi in test_hosts for gi in g])
        lo, hi = np.percentile(X[~test], 0.5, axis=0), np.percentile(X[~test], 99.5, axis=0)
        Xtr = np.clip(X[~test], lo, hi)
        mean, scale = Xtr.mean(0), Xtr.std(0) + 1e-9
        clf = LogisticRegression(C=1.0, max_iter=1000).fit((Xtr - mean) / scale, y[~test])
        cal = Calibrator(mean, scale, clf.coef_[0], clf.intercept_[0], lo, hi)
        train_metrics = roc_metrics(y[~test], np.array([cal.probability(x) for x in X[~test]]), ci_resamples=0)
        # ship exactly the model that was measured (no refit on everything)
        weights.write_text(json.dumps(cal.to_json(), indent=2) + "\n", encoding="utf-8")
    in_source = roc_metrics(y[test], np.array([cal.probability(x) for x in X[test]]))
    sources = sorted({_name(d) for d in data_dirs})
    in_source.update(kind="in-source", dataset=f"held-out {len(test_hosts)} of {len(paths)} host photos "
                     f"({', '.join(sources)}{' + scikit-image sample photos' if include_builtin else ''}), "
                     f"{per_image} authentic + {per_image} spliced JPEGs each")
    cross = measure_cross(cal, cross_dirs, per_image, seed, cross_max_hosts, echo) if cross_dirs else {}
    card = ela_card(len(paths), sources, include_builtin, per_image, len(test_hosts), seed, in_source, train_metrics,
                    cross, command, sorted({_name(d) for d in cross_dirs or []}),
                    counts={_name(d): len(list_images([d])) for d in data_dirs}, keep_weights=keep_weights)
    write_model_card(out_dir, card)
    head = card["metrics"]
    echo(f"{head['kind']}: AUC {head['auc']:.3f} (95 % CI {head.get('auc_ci95')}) on {head['n_test']} images; "
         f"in-source held-out AUC {in_source['auc']:.3f}; wrote {out_dir}")
    return card
