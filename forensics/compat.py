"""Compatibility shims for the pinned third-party stack. One job each, documented.

``import_torchvision()``
    torchvision 0.28.0 from PyPI is a CUDA build. On a CPU-only torch its compiled
    extension (``torchvision._C``) cannot load, and ``import torchvision`` then dies in
    ``torchvision/_meta_registrations.py`` with ``RuntimeError: operator
    torchvision::nms does not exist``: that module registers fake (meta) kernels for
    the ops ``torchvision::nms`` and ``torchvision::qnms``, whose *schemas* normally
    come from the extension.

    We first try the plain import. Only if it fails with that error do we define the
    two schemas ourselves (``torch.library.Library("torchvision", "DEF")``), give
    ``nms`` a plain-torch CPU kernel (greedy non-maximum suppression, same semantics:
    indices of kept boxes in decreasing score order), and import again. Everything
    the project uses -- model definitions (``resnext50_32x4d``, ``resnet18``),
    transforms, the pure-Python ``roi_align`` -- works after that. On a CUDA machine
    the real extension loads and this shim is never used. ``torchvision.io`` video
    decoding does *not* work with the shim; decode with PyAV / OpenCV / Pillow.
    ``torchvision.ops.nms`` still refuses to run (it checks for the extension); the
    kernel is reachable as ``torch.ops.torchvision.nms`` if ever needed.

    ``compat_info()`` says which path was taken, for findings and reports.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

_lock = threading.Lock()
_state: dict[str, Any] = {"torchvision": None, "shim": False, "reason": ""}
_lib = None  # keep the Library object alive: dropping it unregisters the schemas


def _nms_cpu(dets, scores, iou_threshold: float):
    """Greedy NMS in plain torch (boxes ``x0, y0, x1, y1``); returns kept indices, best first."""
    import torch

    if dets.numel() == 0:
        return torch.empty((0,), dtype=torch.long, device=dets.device)
    x0, y0, x1, y1 = dets.float().unbind(1)
    areas = (x1 - x0).clamp(min=0) * (y1 - y0).clamp(min=0)
    order = scores.argsort(descending=True)
    keep = []
    suppressed = torch.zeros(dets.shape[0], dtype=torch.bool)
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        xx0 = torch.maximum(x0[i], x0)
        yy0 = torch.maximum(y0[i], y0)
        xx1 = torch.minimum(x1[i], x1)
        yy1 = torch.minimum(y1[i], y1)
        inter = (xx1 - xx0).clamp(min=0) * (yy1 - yy0).clamp(min=0)
        iou = inter / (areas[i] + areas - inter).clamp(min=1e-12)
        suppressed |= iou > iou_threshold
    return torch.tensor(keep, dtype=torch.long, device=dets.device)


def _define_ops() -> None:
    global _lib
    import torch

    _lib = torch.library.Library("torchvision", "DEF")  # noqa: F841 - must stay referenced
    _lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _lib.impl("nms", _nms_cpu, "CPU")


def import_torchvision():
    """Import and return ``torchvision``, defining the missing op schemas only if needed.

    Example
    -------
    >>> tv = import_torchvision()
    >>> tv.models.resnet18(weights=None).fc.in_features
    512
    """
    with _lock:
        if _state["torchvision"] is not None:
            return _state["torchvision"]
        try:
            import torchvision
        except RuntimeError as exc:
            if "torchvision::" not in str(exc):
                raise
            # drop the half-imported package before retrying
            for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
                del sys.modules[name]
            _define_ops()
            import torchvision

            _state["shim"] = True
            _state["reason"] = (f"torchvision's compiled extension did not load ({exc}); "
                                "op schemas torchvision::nms/qnms defined by forensics.compat")
        _state["torchvision"] = torchvision
        return torchvision


def compat_info() -> dict[str, Any]:
    """Which import path was used (``{"torchvision_shim": bool, "reason": str}``)."""
    return {"torchvision_shim": bool(_state["shim"]), "reason": _state["reason"]}
