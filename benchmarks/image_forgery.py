"""Image-forgery benchmark for the copy-move and noise detectors: detection AUC (bootstrap 95 % CI), pixel F1 / MCC
against the masks (per variant: plain, rotated, scaled, saved as JPEG), share of images scored, and cost in ms per
megapixel on one CPU thread (and the CPU time on one 1-megapixel image). Prints its figures.

Hosts are authentic photos the calibrators never saw: scikit-image's astronaut, coffee and chelsea (left out of
calibration because the demo uses them) and, where ``../shared/data`` exists, face photos from folders that are
not used for calibration (``face_real/deepface_tests``, ``face_real/facemask_nomask``, ``face_real/facenet_pytorch``,
``face_real/utkface``). Every host gives an authentic file, a generated copy-move (plain, rotated or scaled, in
turn) and a generated splice, written in turn as JPEG, PNG, BMP, TIFF, WebP, greyscale PNG and RGBA PNG, and run
through each detector exactly as ``forensics analyze`` runs it. Real forgery sets in the ``real/``, ``fake/``,
``masks/`` layout can be added with ``--real``.

``--real-set DIR`` (repeatable) measures detectors (``--real-detectors``, default copy_move, noise and jpeg_dq) on a
set of real public tampered photos laid out as ``DIR/real/`` (authentic), ``DIR/fake/`` (tampered) and
``DIR/mask/<fake stem>.png`` (white = tampered), each file run through the same per-file path as the generated images
(``forensics.api.read_forgery_set``). The kind of each fake (e.g. copy-move, splice) comes from a ``fake/<kind>/``
sub-folder or from a ``MANIFEST.csv`` beside or above the set (columns ``set``, ``label`` = ``fake:<kind>``,
``relpath``). At most ``--max-real-set`` authentic and as many tampered files per set are used (a seeded sample when
there are more). Nothing is fitted on these sets. ``--skip-generated`` runs only the real sets. Pixel F1 / MCC use
each detector's binary mask artefact (``copy-move-mask``, ``noise-mask``; jpeg_dq: the union of ``dq-mask`` and,
for non-JPEG files, ``offgrid-mask``). ``--also-mask NAME`` also scores them against a second ground truth
``DIR/NAME/<fake stem>.png`` where a set has one (e.g. copy-move source + target where ``mask/`` marks the target).

    python benchmarks/image_forgery.py [--per-dir 15] [--data DIR ...] [--real DIR ...] [--seed 1]
    python benchmarks/image_forgery.py --skip-generated --real-set DIR [--real-set DIR ...] [--max-real-set 60]
        [--real-detectors copy_move,noise,jpeg_dq] [--also-mask NAME] [--timing]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
DEFAULT_DIRS = ["face_real/deepface_tests", "face_real/facemask_nomask", "face_real/facenet_pytorch",
                "face_real/utkface"]
FORMATS = ["JPEG", "PNG", "BMP", "TIFF", "WEBP", "grey", "rgba"]
KINDS = {"plain": {}, "rotated": {"rotate": (-45, 45)}, "scaled": {"scale": (0.7, 1.4)}}


def encode(rgb: np.ndarray, fmt: str) -> tuple[bytes, str]:
    from PIL import Image

    im = Image.fromarray(rgb)
    ext = {"grey": "png", "rgba": "png"}.get(fmt, fmt.lower())
    if fmt == "grey":
        im, fmt = im.convert("L"), "PNG"
    elif fmt == "rgba":
        im, fmt = im.convert("RGBA"), "PNG"
    buf = io.BytesIO()
    im.save(buf, format=fmt, **({"quality": 90} if fmt == "JPEG" else {"lossless": True} if fmt == "WEBP" else {}))
    return buf.getvalue(), ext


def hosts(dirs: list[Path], per_dir: int, seed: int) -> list[tuple[str, np.ndarray]]:
    import skimage.data

    from forensics.api import load_rgb

    out = [(f"scikit-image/{n}", getattr(skimage.data, n)()) for n in ("astronaut", "coffee", "chelsea")]
    exts = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
    for d in dirs:
        files = sorted(p for p in d.rglob("*") if p.suffix.lower() in exts)
        if len(files) > per_dir:
            files = sorted(files[i] for i in np.random.default_rng(seed).permutation(len(files))[:per_dir])
        out += [(f"{d.name}/{p.name}", load_rgb(p, max_side=640)) for p in files]
    return out


def mask_from(finding, slug: str, shape: tuple[int, int]) -> np.ndarray | None:
    import cv2
    from PIL import Image

    out = None  # "a+b": the union of the detector's mask artefacts a and b (those it produced)
    for a in finding.artifacts:
        if a.slug in slug.split("+"):
            m = np.asarray(Image.open(io.BytesIO(a.png)).convert("L")) > 127
            m = cv2.resize(m.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0
            out = m if out is None else out | m
    return out


def run(detector, path: Path):
    from forensics.api import open_media

    media = open_media(path)
    t, c = time.perf_counter(), time.process_time()
    f = detector.analyze(media.item, media)
    return f, time.perf_counter() - t, time.process_time() - c


def finding_row(f, sec: float, cpu: float, *, label: int, kind: str, fmt: str, mp: float,
                truth: np.ndarray | None, slug: str, marked: bool | None, truth_alt: np.ndarray | None = None) -> dict:
    """One benchmark row from a detector's finding: status, probability, raw score, timing and, where a truth mask
    is given, pixel F1 / MCC of the detector's mask artefact ``slug`` against it (and against ``truth_alt``, a second
    ground truth such as source + target of a copy-move, as ``f1_alt`` / ``mcc_alt``)."""
    from forensics_plugins.copy_move.cmfd import pixel_scores

    scores = {}
    for key, t in (("", truth), ("_alt", truth_alt)):
        scores["f1" + key] = scores["mcc" + key] = None
        if t is not None:
            pred = mask_from(f, slug, t.shape)
            if pred is None:  # no mask artefact (e.g. not applicable): nothing was marked
                pred = np.zeros(t.shape, bool)
            ps = pixel_scores(pred, t)
            scores["f1" + key], scores["mcc" + key] = ps["f1"], ps["mcc"]
    return {"label": label, "kind": kind, "format": fmt, "status": f.status.value, "marked": marked,
            "probability": f.probability, "score": f.score if f.score is not None else np.nan,
            **scores, "mp": mp, "seconds": sec, "cpu": cpu}


def summarise(name: str, rows: list[dict]) -> None:
    from forensics.api import Status, roc_metrics

    n = len(rows)
    ran = [r for r in rows if r["status"] == Status.RAN.value]
    y = np.array([r["label"] for r in rows])
    # AUC of what the detector outputs: its calibrated probability where it votes, else its raw score
    use_p = len(ran) == n
    s = np.array([r["probability"] if use_p else r["score"] for r in rows], dtype=float)
    s = np.nan_to_num(s, nan=-1e9)
    m = roc_metrics(y, s)
    mp = sum(r["mp"] for r in rows)
    sec = sum(r["seconds"] for r in rows)
    cpu = sum(r["cpu"] for r in rows)
    print(f"\n== {name}: {n} images ({int((y == 0).sum())} authentic, {int(y.sum())} forged)")
    why = "the detector does not vote" if not ran else f"only {len(ran)} of {n} scored with a probability"
    print(f"   image-level AUC ({'calibrated probability' if use_p else 'raw score, unscored files lowest; ' + why}): "
          f"{m['auc']} (95 % CI {m['auc_ci95']}), EER {m['eer']}")
    if ran and not use_p and len({r["label"] for r in ran}) == 2:
        yr = np.array([r["label"] for r in ran])
        mr = roc_metrics(yr, np.array([r["probability"] for r in ran], dtype=float))
        print(f"   image-level AUC of the calibrated probability on the {len(ran)} files it scored: {mr['auc']} "
              f"(95 % CI {mr['auc_ci95']}; {int(yr.sum())} forged, {int((yr == 0).sum())} authentic)")
    print(f"   scored with a probability: {len(ran)}/{n} = {len(ran) / max(n, 1):.1%}; statuses: "
          + ", ".join(f"{k} {sum(r['status'] == k for r in rows)}" for k in sorted({r['status'] for r in rows})))
    print(f"   cost: {1000 * cpu / max(mp, 1e-9):.0f} ms CPU per megapixel ({1000 * sec / max(mp, 1e-9):.0f} ms wall on "
          f"this machine now; {n} images, {mp:.2f} MP, {cpu:.1f} s CPU, {sec:.1f} s wall)")
    print_pixel_scores(rows, "f1")
    sel = [r for r in rows if r["label"] == 1 and r["format"] == "JPEG" and r["f1"] is not None]
    if sel:
        print(f"   pixel F1 / MCC, saved as JPEG q90 (any kind): {np.mean([r['f1'] for r in sel]):.3f} / "
              f"{np.mean([r['mcc'] for r in sel]):.3f} (mean of {len(sel)} images)")
    forged = [r for r in rows if r["label"] == 1 and r["f1"] is not None]
    if forged and forged[0].get("marked") is not None:
        auth = [r for r in rows if r["label"] == 0]
        print(f"   any region marked: forged {sum(r['marked'] for r in forged)}/{len(forged)}, authentic "
              f"{sum(r['marked'] for r in auth)}/{len(auth)}")
    fmts = sorted({r["format"] for r in rows})
    print("   per format (files analysed without failure / files): " + "; ".join(
        f"{f} {sum(r['format'] == f and r['status'] != 'failed' for r in rows)}/"
        f"{sum(r['format'] == f for r in rows)}" for f in fmts))


def print_pixel_scores(rows: list[dict], key: str, against: str = "") -> list[dict]:
    """Print mean pixel F1 / MCC per kind of the tampered rows scored against one ground truth (``key`` ``f1`` for
    the set's own mask, ``f1_alt`` for the ``--also-mask`` one); returns those rows."""
    mcc = key.replace("f1", "mcc")
    scored = [r for r in rows if r["label"] == 1 and r.get(key) is not None]
    for kind in sorted({r["kind"] for r in scored}):
        sel = [r for r in scored if r["kind"] == kind]
        print(f"   pixel F1 / MCC{against}, {kind}: {np.mean([r[key] for r in sel]):.3f} / "
              f"{np.mean([r[mcc] for r in sel]):.3f} (mean of {len(sel)} images)")
    return scored


IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def real_set_items(root: Path, cap: int, seed: int) -> tuple[list[tuple[Path, int, str, Path | None]], dict]:
    """(path, label, kind, mask path or None) for one real set, at most ``cap`` files per class, and the counts."""
    from forensics.api import read_forgery_set

    everything = read_forgery_set(root)
    counts = {"real": sum(r[1] == 0 for r in everything), "fake": sum(r[1] == 1 for r in everything)}
    return read_forgery_set(root, cap=cap, seed=seed), counts


def load_mask(path: Path) -> np.ndarray | None:
    from forensics.api import read_forgery_mask

    try:
        m = read_forgery_mask(path)
    except (OSError, ValueError) as exc:
        print(f"   {path.name}: mask unreadable ({exc}); no pixel score")
        return None
    return m if m.any() else None


MASK_SLUG = {"copy_move": "copy-move-mask", "noise": "noise-mask", "jpeg_dq": "dq-mask+offgrid-mask"}


def measure_real_set(root: Path, detector, cap: int, seed: int, also_mask: str | None = None) -> None:
    """One detector on one real set: image-level AUC (both classes), share scored, pixel F1 / MCC per kind; with
    ``also_mask``, pixel F1 / MCC also against ``root/<also_mask>/<fake stem>.png`` where that folder exists."""
    from forensics.api import Status, roc_metrics

    items, counts = real_set_items(root, cap, seed)
    if not items:
        print(f"\n== {detector.name} on real set {root.name}: no images under real/ or fake/; skipped")
        return
    rows: list[dict] = []
    for path, label, kind, mpath in items:
        row = {"label": label, "kind": kind, "format": path.suffix.lower().lstrip(".").upper() or "?", "status":
               "failed", "marked": None, "probability": None, "score": np.nan, "f1": None, "mcc": None, "mp": 0.0,
               "seconds": 0.0, "cpu": 0.0}
        try:
            f, sec, cpu = run(detector, path)
        except Exception as exc:  # a bad file is reported and counted as not scored, never crashes the benchmark
            print(f"   {path.name}: {type(exc).__name__}: {exc}")
            rows.append(row)
            continue
        size = (f.details or {}).get("size") or image_size(path)
        alt = root / also_mask / (path.stem + ".png") if also_mask and label == 1 else None
        rows.append(finding_row(f, sec, cpu, label=label, kind=kind, fmt=row["format"],
                                mp=size[0] * size[1] / 1e6 if size else 0.0,
                                truth=load_mask(mpath) if mpath is not None else None,
                                slug=MASK_SLUG.get(detector.name, ""), marked=marked_of(detector.name, f),
                                truth_alt=load_mask(alt) if alt is not None and alt.is_file() else None))
    fakes = [r for r in rows if r["label"] == 1]
    print(f"\n-- {detector.name}, real set {root.name}: {counts.get('real', 0)} authentic and {counts.get('fake', 0)} tampered files "
          f"found, {sum(r['label'] == 0 for r in rows)} + {len(fakes)} used (cap {cap} per class); masks for "
          f"{sum(r['f1'] is not None for r in fakes)}/{len(fakes)} tampered; kinds: "
          + ", ".join(f"{k} {sum(r['kind'] == k for r in fakes)}" for k in sorted({r['kind'] for r in fakes})))
    labels = {r["label"] for r in rows}
    if labels == {0, 1}:
        summarise(f"{detector.name} on real set {root.name} (cross-source: never fitted or tuned on)", rows)
        ran = all(r["status"] == Status.RAN.value for r in rows)
        for kind in sorted({r["kind"] for r in fakes}):
            sel = [r for r in rows if r["label"] == 0 or r["kind"] == kind]
            y = np.array([r["label"] for r in sel])
            s = np.nan_to_num(np.array([r["probability"] if ran else r["score"] for r in sel], dtype=float), nan=-1e9)
            m = roc_metrics(y, s)
            print(f"   image-level AUC, {kind} vs authentic: {m['auc']} (95 % CI {m['auc_ci95']}; "
                  f"{int(y.sum())} tampered, {int((y == 0).sum())} authentic)")
    else:
        print(f"   only {'authentic' if labels == {0} else 'tampered'} images: no image-level AUC")
        summarise(f"{detector.name} on real set {root.name} (one class only)", rows)
    for kind in sorted({r["kind"] for r in fakes}):
        sel = [r for r in fakes if r["kind"] == kind]
        print(f"   any region marked, {kind}: {sum(bool(r['marked']) for r in sel)}/{len(sel)}")
    sel = [r for r in fakes if r["f1"] is not None]
    if sel:
        print(f"   pixel F1 / MCC, all tampered with a mask: {np.mean([r['f1'] for r in sel]):.3f} / "
              f"{np.mean([r['mcc'] for r in sel]):.3f} (mean of {len(sel)} images; median F1 "
              f"{np.median([r['f1'] for r in sel]):.3f})")
    alt = print_pixel_scores(fakes, "f1_alt", f" against {also_mask}/")
    if alt:
        print(f"   pixel F1 / MCC against {also_mask}/, all tampered with such a mask: "
              f"{np.mean([r['f1_alt'] for r in alt]):.3f} / {np.mean([r['mcc_alt'] for r in alt]):.3f} "
              f"(mean of {len(alt)} images)")


def image_size(path: Path) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except OSError:
        return None


def marked_of(name: str, f) -> bool | None:
    """Whether the detector marked any region (its own detail), for the 'any region marked' lines."""
    d = f.details or {}
    if name == "copy_move":
        return d.get("marked_share", 0) > 0
    if name == "noise":
        return d.get("marked_share", d.get("cooc_minority_share", 0)) > 0
    if name == "jpeg_dq":
        return ((d.get("aligned_dq") or {}).get("marked_block_share", 0) > 0
                or (d.get("off_grid") or {}).get("marked_block_share", 0) > 0)
    return None


def one_megapixel_timing() -> None:
    """CPU time of the copy-move search on one 1-megapixel image (astronaut upscaled to 1000 x 1000, a plain copy)."""
    import cv2
    import skimage.data

    from forensics.api import make_copy_move
    from forensics_plugins.copy_move.cmfd import detect_copy_move

    img = cv2.resize(skimage.data.astronaut(), (1000, 1000), interpolation=cv2.INTER_CUBIC)
    forged, _, _ = make_copy_move(img, np.random.default_rng(0))
    for im, name in ((img, "authentic"), (forged, "copy-move")):
        c = time.process_time()
        detect_copy_move(im)
        print(f"   1 MP {name} image: {1000 * (time.process_time() - c):.0f} ms CPU")


def splice_detector_timing() -> None:
    """CPU time of the noise and jpeg_dq detectors on 1 MP and 4 MP images (astronaut upscaled, a decoded JPEG q85
    saved as PNG, so jpeg_dq takes its pixel path), each run through the detector as ``forensics analyze`` does."""
    import cv2
    import skimage.data

    from forensics.api import decode_image, jpeg_bytes
    from forensics_plugins.jpeg_dq import JpegDQDetector
    from forensics_plugins.noise import NoiseDetector

    with tempfile.TemporaryDirectory() as tmp:
        for side in (1000, 2000):
            img = decode_image(jpeg_bytes(cv2.resize(skimage.data.astronaut(), (side, side),
                                                     interpolation=cv2.INTER_CUBIC), 85))
            p = Path(tmp) / f"a{side}.png"
            p.write_bytes(encode(img, "PNG")[0])
            for det in (NoiseDetector(), JpegDQDetector()):
                f, sec, cpu = run(det, p)
                print(f"   {det.name}, {side * side / 1e6:.0f} MP PNG: {1000 * cpu:.0f} ms CPU "
                      f"({1000 * cpu / (side * side / 1e6):.0f} ms per MP; status {f.status.value})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, action="append", default=None, help="folders of authentic host photos")
    ap.add_argument("--per-dir", type=int, default=15)
    ap.add_argument("--real", type=Path, action="append", default=[], help="real set: real/, fake/, masks/")
    ap.add_argument("--real-set", type=Path, action="append", default=[],
                    help="real tampered-photo set: real/, fake/, mask/<fake stem>.png (white = tampered); repeatable")
    ap.add_argument("--max-real-set", type=int, default=60, help="at most this many authentic and tampered per set")
    ap.add_argument("--skip-generated", action="store_true", help="only the --real / --real-set measurements")
    ap.add_argument("--real-detectors", default="copy_move,noise,jpeg_dq",
                    help="comma-separated detectors run on each --real-set (copy_move, noise, jpeg_dq)")
    ap.add_argument("--also-mask", default=None, metavar="NAME",
                    help="also score pixel F1 / MCC against DIR/NAME/<fake stem>.png of each --real-set that has it "
                         "(e.g. copy-move source + target masks)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timing", action="store_true", help="also time noise and jpeg_dq on 1 MP and 4 MP images")
    args = ap.parse_args()
    import cv2
    import torch

    cv2.setNumThreads(1)  # the cost lines are for one CPU thread
    torch.set_num_threads(1)
    from forensics_plugins.copy_move import CopyMoveDetector

    if args.timing:
        print("\n== noise / jpeg_dq cost on large images (one CPU thread)")
        splice_detector_timing()
    if not args.skip_generated:
        generated(args)
    if args.real:
        import json

        from forensics.api import Calibrator, load_card
        from forensics_plugins.copy_move.realdata import evaluate_real

        card = load_card("copy_move")
        cal = Calibrator.from_json(json.loads(card.path("weights").read_text(encoding="utf-8")))
        for d in args.real:
            ev = evaluate_real(d, cal)
            if ev:
                print(f"\n== copy_move on {d.name} (real, cross-source): AUC {ev['auc']} (95 % CI {ev['auc_ci95']}), "
                      f"{ev['n_test']} images, scored {ev['scored_share']:.1%}, pixel F1 {ev['pixel_f1_mean']} / "
                      f"MCC {ev['pixel_mcc_mean']} on {ev['masks']} masks")
    if args.real_set:
        from forensics_plugins.jpeg_dq import JpegDQDetector
        from forensics_plugins.noise import NoiseDetector

        known = {"copy_move": CopyMoveDetector, "noise": NoiseDetector, "jpeg_dq": JpegDQDetector}
        for name in [x.strip() for x in args.real_detectors.split(",") if x.strip()]:
            if name not in known:
                print(f"unknown detector {name!r}; choose from {', '.join(known)}")
                return 2
            det = known[name]()
            for d in args.real_set:
                measure_real_set(d, det, args.max_real_set, args.seed, args.also_mask)
    return 0


def generated(args) -> None:
    """The generated copy-move / splice measurement (hosts x formats), as printed since the first version."""
    from forensics.api import make_copy_move, make_splice
    from forensics_plugins.copy_move import CopyMoveDetector
    from forensics_plugins.jpeg_dq import JpegDQDetector
    from forensics_plugins.noise import NoiseDetector

    dirs = args.data if args.data is not None else [SHARED / d for d in DEFAULT_DIRS if (SHARED / d).is_dir()]
    H = hosts(dirs, args.per_dir, args.seed)
    print(f"{len(H)} host photos ({', '.join(sorted({h.split('/')[0] for h, _ in H}))}); seed {args.seed}")
    cm, nz, jd = CopyMoveDetector(), NoiseDetector(), JpegDQDetector()
    rows_cm: list[dict] = []
    rows_nz: list[dict] = []
    rows_jd: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, host) in enumerate(H):
            rng = np.random.default_rng([args.seed, i])
            fmt = FORMATS[i % len(FORMATS)]
            kind = list(KINDS)[i % 3]
            try:
                forged, truth, _ = make_copy_move(host, rng, area=(0.01, 0.06), **KINDS[kind])
            except ValueError:
                continue
            donor = H[(i + 1) % len(H)][1]
            spliced, (y, x, h, w) = make_splice(host, donor, rng, 90, 70)
            stru = np.zeros(host.shape[:2], bool)
            stru[y:y + h, x:x + w] = True
            mp = host.shape[0] * host.shape[1] / 1e6
            for label, img, tag, mask in ((0, host, "authentic", None), (1, forged, kind, truth),
                                          (1, spliced, "splice", stru)):
                data, ext = encode(img, fmt)
                p = Path(tmp) / f"{i:04d}_{tag}.{ext}"
                p.write_bytes(data)
                for det, rows in ((cm, rows_cm), (nz, rows_nz), (jd, rows_jd)):
                    if (det is cm and tag == "splice") or (det is not cm and tag not in ("authentic", "splice")):
                        continue
                    f, sec, cpu = run(det, p)
                    marked = (f.details or {}).get("marked_share", 0) > 0 if det is cm else None
                    rows.append(finding_row(f, sec, cpu, label=label, kind=tag, fmt=fmt, mp=mp, truth=mask,
                                            slug=MASK_SLUG[det.name], marked=marked))
            if (i + 1) % 10 == 0:
                print(f"  {i + 1}/{len(H)} hosts", flush=True)
    summarise("copy_move (generated copy-moves vs authentic)", rows_cm)
    one_megapixel_timing()
    summarise("noise (generated splices vs authentic)", rows_nz)
    summarise("jpeg_dq (generated splices vs authentic)", rows_jd)


if __name__ == "__main__":
    sys.exit(main())
