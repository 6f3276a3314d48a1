"""Fit and measure the ``jpeg_dq`` score on generated double-compressed splices.

For each authentic *host* photo one matched pair is generated (:func:`make_pair`):

* authentic: host → JPEG ``q1`` ("camera"; for a third of the hosts instead: downsized, no first save) → JPEG ``qf``;
* spliced:   the same decoded camera JPEG with a region of another photo (itself saved at ``q2``,
  ``|q2 − q1| ≥ 5``, pasted at a random offset, half of the time resampled) → JPEG ``qf``.

``q1 ∈ [60, 95]``, ``q2 ∈ [50, 98]``, ``qf ∈ [60, 98]`` independently, so about half of the pairs are saved
last at a *lower or equal* quality, where aligned double quantisation is invisible. The split is by host
photo; the hosts of the ``cross`` sources are never used for fitting (cross-source figures).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from forensics.api import (
    Calibrator,
    builtin_photos,
    decode_image,
    jpeg_bytes,
    list_images,
    load_rgb,
    make_splice,
    roc_metrics,
    write_model_card,
)

from . import dq

NO_DQ = "cross-source, no aligned DQ found in the file"  # the evaluation the detector's second gate reads
# the gates for files that are not JPEG but were decoded from one (coefficients recomputed from the pixels)
PIXEL_ALL = "cross-source, pixel path (non-JPEG copies of a decoded JPEG), all files with a visible history"
PIXEL_DQ = "cross-source, decoded JPEG saved losslessly (pixel-domain coefficients), aligned DQ found"
PIXEL_NO_DQ = "cross-source, decoded JPEG saved losslessly (pixel-domain coefficients), no aligned DQ found"
# scikit-image photos; astronaut, coffee and chelsea are left out because the demo case is made from them.
BUILTIN = ("rocket.jpg", "hubble_deep_field.jpg", "motorcycle_left.png", "motorcycle_right.png", "ihc.png",
           "retina.jpg", "color.png", "immunohistochemistry.png", "page.png", "brick.png", "grass.png", "gravel.png")
KNOWN_SOURCES = {
    "face_real/lfw": ("LFW (Labeled Faces in the Wild) crops", "baileyfriend/Gender-Image-Classifier via the "
                      "project's shared data (face_real/lfw: 192×192 JPEG q90 face crops)", "LFW: research use"),
    "face_image/real": ("Unsplash portraits (Kaggle 'hard fake vs real faces', real class)",
                        "project's shared data face_image/real (300×300 JPEG)", "research / non-commercial"),
}


def builtin_images() -> list[Path]:
    return builtin_photos(BUILTIN)


def make_pair(host: np.ndarray, donor: np.ndarray, rng: np.random.Generator) -> dict:
    """An authentic and a spliced JPEG sharing the host's compression history, with the splice mask.

    A third of the hosts are first downsized (×0.55–0.9, area interpolation) and saved only once, so that
    truly singly compressed files are represented although the host photos are JPEG files themselves.
    """
    single = bool(rng.random() < 1 / 3)
    q1 = int(rng.integers(60, 96))
    q2 = int(rng.choice([q for q in range(50, 99) if abs(q - q1) >= 5]))
    qf = int(rng.integers(60, 99))
    if single:  # most host files are JPEGs already: downsizing erases their block grid and quantisation
        import cv2

        s = float(rng.uniform(0.55, 0.9))
        host = cv2.resize(host, (max(64, round(host.shape[1] * s)), max(64, round(host.shape[0] * s))),
                          interpolation=cv2.INTER_AREA)
    camera = host if single else decode_image(jpeg_bytes(host, q1))
    spliced, box = make_splice(camera, donor, rng, q1, q2)
    mask = np.any(spliced != camera, axis=2)
    return {"authentic": jpeg_bytes(camera, qf), "spliced": jpeg_bytes(spliced, qf), "mask": mask,
            "q1": None if single else q1, "q2": q2, "qf": qf, "box": box}


def image_features(data: bytes) -> tuple[np.ndarray, dict]:
    """The detector's features and maps for JPEG bytes (as :class:`JpegDQDetector` computes them)."""
    import io

    from PIL import Image

    from forensics.media import estimate_jpeg_quality

    with Image.open(io.BytesIO(data)) as im:
        quality = estimate_jpeg_quality(im.quantization)
    return dq.analyse(dq.read_coefficients(data), decode_image(data), quality)


PIXEL_FEATURES = dq.FEATURES + ("off_grid_largest_region_share", "off_grid_marked_share")
PIXEL_REGIMES = ("last save JPEG, then decoded", "last save lossless")


def pixel_features(rgb: np.ndarray) -> tuple[np.ndarray, dict] | None:
    """The pixel model's features for a decoded image (PNG, BMP, TIFF, ...): coefficients and table recomputed from
    the pixels (:func:`dq.coefficients_from_pixels`), the five map statistics and the off-lattice region statistics;
    ``None`` when no JPEG history is visible on the 8×8 grid."""
    jc = dq.coefficients_from_pixels(rgb)
    if jc is None:
        return None
    feats, maps = dq.analyse(jc, rgb, dq.table_quality(jc))
    return dq.pixel_vector(feats, maps), maps


def pixel_pair(host: np.ndarray, donor: np.ndarray, r: np.random.Generator, regime: int) -> tuple:
    """(authentic, spliced) decoded images for the pixel path. Regime 0: :func:`make_pair`'s JPEGs, decoded (a PNG
    copy of a JPEG). Regime 1: the host saved once as JPEG q1 ∈ [60, 95] and decoded; the splice pasted into that
    decoded image (:func:`forensics.api.make_splice`, donor saved at q2) and the result saved losslessly."""
    if regime == 0:
        pair = make_pair(host, donor, r)
        return decode_image(pair["authentic"]), decode_image(pair["spliced"])
    q1 = int(r.integers(60, 96))
    q2 = int(r.choice([q for q in range(50, 99) if abs(q - q1) >= 5]))
    camera = decode_image(jpeg_bytes(host, q1))
    spliced, _ = make_splice(camera, donor, r, q1, q2)
    return camera, spliced


def build_pixel(paths: list[Path], hosts: list[int], seed: int, cache: Path | None,
                echo: Callable[[str], None]) -> dict:
    """Pixel-path features of both regimes (:func:`pixel_pair`) for each host; rows where no JPEG history is
    visible get ``found = False``. Cached (resumable per host)."""
    keys = ("X", "y", "host", "found", "used", "regime")
    rows: dict = {k: [] for k in keys}
    start = 0
    if cache and cache.exists():
        z = np.load(cache, allow_pickle=False)
        if int(z["seed"]) == seed and z["hosts"].tolist() == list(hosts):
            start = int(z["next"])
            rows = {k: list(z[k]) for k in keys}
    t0 = time.time()
    for n in range(start, len(hosts)):
        i = hosts[n]
        for regime in (0, 1):
            r = np.random.default_rng([seed, i, 7, regime])
            j = int(r.integers(0, len(paths) - 1))
            auth, fake = pixel_pair(load_rgb(paths[i]), load_rgb(paths[j + (j >= i)]), r, regime)
            for label, img in ((0, auth), (1, fake)):
                res = pixel_features(img)
                rows["X"].append(res[0] if res else np.zeros(len(PIXEL_FEATURES)))
                rows["y"].append(label)
                rows["host"].append(i)
                rows["found"].append(res is not None)
                rows["used"].append(res[1]["dq"].used if res else 0)
                rows["regime"].append(regime)
        if (n + 1) % 50 == 0 or n + 1 == len(hosts):
            echo(f"  pixel path: {n + 1}/{len(hosts)} hosts ({time.time() - t0:.0f} s)")
            if cache:
                cache.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache.with_suffix(".tmp.npz")
                np.savez(tmp, seed=seed, hosts=np.asarray(hosts), next=n + 1,
                         **{k: np.asarray(v) for k, v in rows.items()})
                os.replace(tmp, cache)
    return {k: np.asarray(v) for k, v in rows.items()}


def measure_real_sets(roots: list[Path], model, echo: Callable[[str], None], pixel_model=None
                      ) -> tuple[dict, list[dict]]:
    """The calibrated probability on every file of real tampered-photo sets (never fitted on): JPEG files through
    their coefficients, other files through the pixel path. Returns evaluations (per set: all tampered and each
    kind vs the authentic files, on the files it scored) and data-table rows."""
    from forensics.api import forgery_set_evaluations, forgery_set_source, read_forgery_set

    evaluations, rows = {}, []
    for root in roots:
        items = read_forgery_set(root)
        y, p, kinds, scored = [], [], [], 0
        for path, label, kind, _ in items:
            try:
                if path.suffix.lower() in (".jpg", ".jpeg"):
                    res = image_features(path.read_bytes())
                else:
                    res = pixel_features(load_rgb(path, max_side=100_000))
            except (OSError, ValueError) as exc:
                echo(f"  {path.name}: {exc}")
                res = None
            if res is None:
                continue
            m = model if path.suffix.lower() in (".jpg", ".jpeg") or pixel_model is None else pixel_model
            scored += 1
            y.append(label)
            kinds.append(kind)
            p.append(m.probability(m.decision(res[0])))
        y, p, kinds = np.asarray(y), np.asarray(p), np.asarray(kinds)
        src = forgery_set_source(root)
        what = f"real set {root.name} ({src}), never fitted or tuned on; {scored} of {len(items)} files scored"
        evaluations.update(forgery_set_evaluations(root.name, y, p, kinds, what, echo))
        rows.append({"name": root.name, "role": "real cross-check (never fitted)", "source": src,
                     "count": len(items), "licence": "see the set's MANIFEST.csv / source repository",
                     "label": "published tampered / authentic files of the set, with its masks"})
    return evaluations, rows


def pixel_status(evaluations: dict) -> str:
    """The pixel path's voting sentence, from its measured gate."""
    ci = (evaluations.get(PIXEL_ALL) or {}).get("auc_ci95")
    votes = bool(ci and ci[0] > 0.5)
    return ("Pixel path (non-JPEG copies of a decoded JPEG): " + ("votes" if votes else "does not vote") + " (its "
            "own cross-source interval over both regimes " + ("excludes" if votes else "includes") + " 0.5). "
            "JPEG files: ")


def regime(q1: int | None, qf: int) -> str:
    if q1 is None:
        return "host saved once"
    return "last save at higher quality" if qf > q1 else "last save at lower or equal quality"


def build(paths: list[Path], source: list[str], seed: int, cache: Path | None, echo: Callable[[str], None]) -> dict:
    """Features of one authentic + one spliced JPEG per host (cached and resumable in ``cache``)."""
    done: dict = {}
    if cache and cache.exists():
        z = np.load(cache, allow_pickle=False)
        done = {k: z[k] for k in z.files}
    rows = {"X": [], "y": [], "host": [], "q1": [], "qf": []}
    if done and len(done.get("host", [])) and int(done["n_paths"]) == len(paths) and int(done["seed"]) == seed:
        start = int(done["next"])
        for k in rows:
            rows[k] = list(done[k])
    else:
        start = 0
    t0 = time.time()
    hosts_cache: dict[int, np.ndarray] = {}

    def img(i):
        if i not in hosts_cache:
            if len(hosts_cache) > 64:
                hosts_cache.clear()
            hosts_cache[i] = load_rgb(paths[i])
        return hosts_cache[i]

    for i in range(start, len(paths)):
        r = np.random.default_rng([seed, i])
        j = int(r.integers(0, len(paths) - 1))
        pair = make_pair(img(i), img(j + (j >= i)), r)
        for label, key in ((0, "authentic"), (1, "spliced")):
            rows["X"].append(image_features(pair[key])[0])
            rows["y"].append(label)
            rows["host"].append(i)
            rows["q1"].append(-1 if pair["q1"] is None else pair["q1"])
            rows["qf"].append(pair["qf"])
        if (i + 1) % 50 == 0 or i + 1 == len(paths):
            echo(f"  {i + 1}/{len(paths)} hosts ({time.time() - t0:.0f} s)")
            if cache:
                cache.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache.with_suffix(".tmp.npz")
                np.savez(tmp, next=i + 1, n_paths=len(paths), seed=seed,
                         **{k: np.asarray(v) for k, v in rows.items()})
                os.replace(tmp, cache)
    out = {k: np.asarray(v) for k, v in rows.items()}
    out["source"] = np.asarray([source[h] for h in out["host"]])
    return out


def _name(d: Path) -> str:
    parts = Path(os.path.abspath(d)).parts
    return "/".join(parts[-2:])


def fit(X: np.ndarray, y: np.ndarray, features: tuple = dq.FEATURES) -> dict:
    """Standardised logistic regression over the features + a Platt calibrator of its decision value."""
    from sklearn.linear_model import LogisticRegression

    lo, hi = np.percentile(X, 0.5, axis=0), np.percentile(X, 99.5, axis=0)
    Xc = np.clip(X, lo, hi)
    mean, scale = Xc.mean(0), Xc.std(0) + 1e-9
    clf = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit((Xc - mean) / scale, y)
    raw = ((Xc - mean) / scale) @ clf.coef_[0] + clf.intercept_[0]
    cal = Calibrator.fit(raw, y, method="platt", input="raw", sign=1)
    return {"features": list(features), "lo": lo.tolist(), "hi": hi.tolist(), "mean": mean.tolist(),
            "scale": scale.tolist(), "coef": clf.coef_[0].tolist(), "intercept": float(clf.intercept_[0]),
            "calibrator": cal.to_json()}


def train(train_dirs: list[Path], cross_dirs: list[Path], out_dir: Path, include_builtin: bool = True,
          max_per_source: int | None = 400, seed: int = 0, cache_dir: Path | None = None, command: str = "",
          echo: Callable[[str], None] = print, pixel_hosts: int = 200, real_sets: list[Path] | None = None) -> dict:
    from . import _Model

    groups: list[tuple[str, list[Path], str]] = []  # (name, paths, role)
    rng = np.random.default_rng(seed)
    for role, dirs in (("train", train_dirs), ("cross", cross_dirs)):
        for d in dirs:
            p = list_images([d])
            if max_per_source and len(p) > max_per_source:
                p = sorted(rng.choice(p, max_per_source, replace=False).tolist())
            groups.append((_name(d), [Path(x) for x in p], role))
    if include_builtin:
        groups.append(("scikit-image sample photos", builtin_images(), "cross"))
    paths, source, role = [], [], []
    for name, p, r in groups:
        paths += p
        source += [name] * len(p)
        role += [r] * len(p)
    if sum(r == "train" for r in role) < 20:
        raise ValueError(f"need at least 20 training host photos, found {sum(r == 'train' for r in role)}")
    echo(f"generating 1 authentic + 1 spliced JPEG from each of {len(paths)} host photos (seed {seed})")
    cache = (cache_dir / f"features-v3-seed{seed}.npz") if cache_dir else None
    data = build(paths, source, seed, cache, echo)
    role_arr = np.asarray(role)[data["host"]]
    train_hosts = np.flatnonzero(np.asarray(role) == "train")
    perm = np.random.default_rng(seed + 1).permutation(train_hosts)
    test_hosts = set(perm[: max(5, int(0.3 * len(perm)))].tolist())
    is_test = np.array([h in test_hosts for h in data["host"]])
    fit_rows = (role_arr == "train") & ~is_test
    model = fit(data["X"][fit_rows], data["y"][fit_rows])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "jpeg_dq_model.json").write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    m = _Model(model)
    p = np.array([m.probability(m.decision(x)) for x in data["X"]])

    def measure(rows: np.ndarray, dataset: str, kind: str) -> dict:
        r = roc_metrics(data["y"][rows], p[rows])
        r.update(dataset=dataset, kind=kind)
        return r

    cross_rows = role_arr == "cross"
    cross_names = sorted({s for s, r in zip(source, role) if r == "cross"})
    train_names = sorted({s for s, r in zip(source, role) if r == "train"})
    evaluations = {}
    # observable at run time: did the file show aligned DQ at all? (the DQ statistics are exactly 0 when not)
    found = np.any(data["X"][:, [dq.FEATURES.index("dq_largest_region_share"),
                                 dq.FEATURES.index("dq_p99_tamper_logodds")]] != 0, axis=1)
    headline = measure(cross_rows & found, f"generated splices from {', '.join(cross_names)} (sources never fitted "
                       "on), files in which aligned double quantisation was found (where the score votes)",
                       "cross-source") if (cross_rows & found).any() else None
    evaluations[NO_DQ] = measure(cross_rows & ~found, "cross-source files without aligned double quantisation "
                                 "(the score does not vote on these while this interval includes 0.5)", "cross-source")
    evaluations["cross-source, all files"] = measure(cross_rows, "all cross-source files", "cross-source")
    evaluations["held-out hosts, same sources as fitting"] = measure(
        (role_arr == "train") & is_test, f"held-out hosts of {', '.join(train_names)}", "in-source")
    for reg in ("host saved once", "last save at higher quality", "last save at lower or equal quality"):
        rows = cross_rows & np.array([regime(None if a < 0 else int(a), int(b)) == reg
                                      for a, b in zip(data["q1"], data["qf"])])
        if rows.any() and len(np.unique(data["y"][rows])) == 2:
            evaluations[f"cross-source, {reg}"] = measure(rows, f"cross-source pairs where the {reg}", "cross-source")
    for name in cross_names:
        rows = cross_rows & (data["source"] == name)
        if rows.any():
            evaluations[f"cross-source: {name}"] = measure(rows, name, "cross-source")
    # the pixel path (non-JPEG files decoded from a JPEG): its own model, fitted on pixel-path pairs of the fitting
    # hosts (both regimes), measured on those of the first ``pixel_hosts`` cross-source hosts
    fit_ids = sorted(set(train_hosts.tolist()) - test_hosts)[:pixel_hosts]
    cross_host_ids = [h for h in range(len(paths)) if role[h] == "cross"][:pixel_hosts]
    pcache = (cache_dir / f"pixel-v3-seed{seed}.npz") if cache_dir else None
    px = build_pixel(paths, fit_ids + cross_host_ids, seed, pcache, echo)
    is_fit = np.isin(px["host"], fit_ids) & px["found"]
    pixel_model = fit(px["X"][is_fit], px["y"][is_fit], PIXEL_FEATURES)
    (out_dir / "jpeg_dq_pixel_model.json").parent.mkdir(parents=True, exist_ok=True)
    (out_dir / "jpeg_dq_pixel_model.json").write_text(json.dumps(pixel_model, indent=2) + "\n", encoding="utf-8")
    pm = _Model(pixel_model, PIXEL_FEATURES)
    pp = np.array([pm.probability(pm.decision(x)) for x in px["X"]])
    cross_px = np.isin(px["host"], cross_host_ids) & px["found"]
    has_dq = px["used"] > 0
    n_cross = len(cross_host_ids)
    for key, rows, what in ((PIXEL_ALL, cross_px, "both regimes"),
                            (PIXEL_DQ, cross_px & has_dq, "aligned double quantisation found"),
                            (PIXEL_NO_DQ, cross_px & ~has_dq, "no aligned double quantisation found"),
                            *[(f"cross-source, pixel path, {reg}", cross_px & (px["regime"] == k), reg)
                              for k, reg in enumerate(PIXEL_REGIMES)]):
        if rows.any() and len(np.unique(px["y"][rows])) == 2:
            r = roc_metrics(px["y"][rows], pp[rows])
            r.update(dataset=f"pixel-path pairs of {n_cross} cross-source hosts (a JPEG decoded and kept losslessly, "
                     f"or a splice pasted into a decoded JPEG and saved losslessly); {what}", kind="cross-source")
            evaluations[key] = r
    fit_found = np.isin(px["host"], fit_ids)
    pixel_note = (f"Pixel path: its own logistic model over the five statistics and two off-lattice statistics, fitted "
                  f"on {int(is_fit.sum())} pixel-path files of {len(fit_ids)} fitting hosts; a JPEG history was visible "
                  f"in {int(px['found'][fit_found].sum())} of {int(fit_found.sum())} fitting and "
                  f"{int(cross_px.sum())} of {int(np.isin(px['host'], cross_host_ids).sum())} cross-source files (the "
                  "rest were last saved at a quality whose steps are 1-2, where the lattice cannot be read back, or, "
                  "for splices saved losslessly, the pasted content moved more than about 30 % of a frequency's informative "
                  "coefficients off the lattice, which hides the history: such files are reported as not "
                  f"applicable; {int(px['found'][np.isin(px['host'], cross_host_ids) & (px['regime'] == 1) & (px['y'] == 1)].sum())}"
                  f" of {int((np.isin(px['host'], cross_host_ids) & (px['regime'] == 1) & (px['y'] == 1)).sum())} "
                  "cross-source lossless splices kept a visible history).")
    real_rows: list[dict] = []
    if real_sets:
        real_eval, real_rows = measure_real_sets(list(real_sets), m, echo, pixel_model=pm)
        evaluations.update(real_eval)
    if headline is None:
        headline = evaluations["held-out hosts, same sources as fitting"]
    ci = headline.get("auc_ci95")
    votes = bool(ci and ci[0] > 0.5)
    data_rows = []
    for name, pth, r in groups:
        title, src, lic = KNOWN_SOURCES.get(name, (name, name, "see the source"))
        data_rows.append({"name": title, "role": "fitting + in-source held-out" if r == "train" else "cross-source test",
                          "source": src if name != "scikit-image sample photos" else
                          "scikit-image data folder (" + ", ".join(p.stem for p in pth) + ")",
                          "count": len(pth), "licence": lic if name != "scikit-image sample photos" else
                          "public domain / CC0 (scikit-image)",
                          "label": "authentic hosts; spliced versions generated here, so the label and mask are known"})
    data_rows += real_rows
    card = {
        "name": "jpeg_dq",
        "version": "1.0.0",
        "title": "jpeg_dq: JPEG double-compression score",
        "detector": "forensics_plugins.jpeg_dq",
        "method": ("Aligned double quantisation (Lin et al. 2009; Bianchi & Piva 2012), block-artefact grid (Li, Yuan "
                   "& Yu 2009), JPEG ghosts (Farid 2009)."),
        "summary": ("Image-level score: a logistic combination of five statistics of the three maps, with a Platt "
                    "calibrator (forensics.api.Calibrator), stored as plain JSON. The maps themselves are training-free."),
        "status": pixel_status(evaluations) + ("votes on files that show aligned double quantisation: that cross-source AUC interval excludes "
                   "0.5" + ("" if (evaluations[NO_DQ].get("auc_ci95") or [0])[0] > 0.5 else
                            "; on files without it the interval includes 0.5, so it reports inconclusive there")
                   if votes else
                   "does not vote: the cross-source AUC interval includes 0.5; the detector reports inconclusive with "
                   "its maps"),
        "architecture": "Features:\n\n" + "\n".join(f"- `{f}`" for f in dq.FEATURES) + (
            "\n\nNon-JPEG files (PNG, BMP, TIFF, WebP) that were decoded from a JPEG: the luminance quantisation "
            "table is recomputed from the pixels (per frequency, the largest step on whose multiples the non-zero DCT "
            "coefficients of the top-left-anchored 8×8 grid fall, ≥ 70 % above chance), the coefficients are re-quantised "
            "with it, and the same analyses run (the pixel path); frequencies without a recovered step are not "
            "analysed; no visible history = not applicable. The pixel path adds an off-lattice map (per block, the "
            "share of informative coefficients off the multiples of the recovered steps, pooled over 3×3 blocks, "
            "marked above 0.3: content pasted or painted into a decoded JPEG before a lossless save) and scores with "
            "its own logistic model over the five statistics plus the off-lattice largest-region and marked shares "
            "(`jpeg_dq_pixel_model.json`), fitted on pixel-path pairs of the fitting hosts in two regimes: a JPEG "
            "decoded and kept losslessly, and a splice pasted into a decoded JPEG and saved losslessly."),
        "metrics": headline,
        "evaluations": evaluations,
        "data": data_rows,
        "training": {"command": command, "seed": seed, "hosts": len(paths),
                     "fit_hosts": int(len(train_hosts) - len(test_hosts)), "in_source_test_hosts": len(test_hosts),
                     "generator": "forensics_plugins/jpeg_dq/train.py make_pair: 1/3 hosts downsized ×0.55–0.9 and saved once; q1∈[60,95], "
                                  "donor q2∈[50,98] with |q2−q1|≥5, last save qf∈[60,98]; forensics.api.make_splice "
                                  "(region 4–25 %, half resampled ×0.6–1.5, half elliptical, half feathered)"},
        "limitations": [
            "Aligned double quantisation is visible only when the last save used finer steps than the first "
            "(higher quality); re-saving at a lower or equal quality hides it (see the per-regime rows).",
            "The splices are synthetic and the first compression used libjpeg's standard tables; camera tables and "
            "real editing pipelines (resizing, filtering, social-media recompression) are not covered.",
            "Hosts are small (≤ 640 px; LFW crops 192 px, already JPEG q90): few blocks per histogram.",
            "Flat, saturated or very dark regions carry no DCT evidence; the maps are neutral-to-noisy there.",
            "The host photos are JPEG files themselves (an earlier compression on the same grid), except the downsized "
            "third; every splice mixes content from two photos, which the statistics may partly respond to besides "
            "compression history. The block-grid statistic takes the median over each window's block boundaries, so "
            "a single straight edge (a paste border) is not read as a grid (tests/test_jpeg_dq.py checks this).",
            "Real tampered photos: only the sets named in the data table (if any) were measured, never fitted on; "
            "in CASIA v1.0 the authentic files are singly compressed and the tampered ones re-saved, so part of that "
            "figure is the re-save (double compression) itself, which an authentic photo re-saved once also shows.",
            "Non-JPEG files (pixel path): the quantisation table is recomputed from the decoded pixels on the grid "
            "anchored at the top-left corner (Fan & de Queiroz 2003); a copy that was cropped off that grid, "
            "resized or filtered after decoding shows no history and is reported as not applicable. "
            + pixel_note,
        ],
        "files": {"weights": {"path": "jpeg_dq_model.json"}, "pixel_weights": {"path": "jpeg_dq_pixel_model.json"}},
        "licence": "model: Apache-2.0; training photos keep their own licences (see Data)",
    }
    write_model_card(out_dir, card)
    echo(f"cross-source: AUC {headline['auc']:.3f} CI {headline.get('auc_ci95')} on {headline.get('n_test')} images; "
         f"wrote {out_dir}")
    return card
