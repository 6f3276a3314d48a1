"""ResNeXt-LSTM video classifier (the seed design), as a short readable torch module.

Architecture
------------
Per frame: a ResNeXt-50 (32×4d) backbone (Xie et al., "Aggregated Residual
Transformations for Deep Neural Networks", CVPR 2017; torchvision definition,
``weights=None``) up to its last convolutional stage gives a ``2048 × h × w`` map
(``4 × 4`` for a 112×112 face crop), global-average-pooled to 2048 features. An
LSTM (Hochreiter & Schmidhuber 1997) runs over the frames in temporal order; its
outputs are averaged over time, dropout 0.4, and a linear layer gives 2 logits
(authentic, manipulated); softmax gives the confidence. This is the widely
reproduced "ResNeXt + LSTM" deepfake detector (after Güera & Delp, "Deepfake
Video Detection Using Recurrent Neural Networks", AVSS 2018).

Heat map: Grad-CAM (Selvaraju et al., ICCV 2017) on the last convolutional map,
for the "manipulated" logit: the channel weights are the gradients averaged over
space, so the LSTM between the map and the output is accounted for (a plain CAM
from the linear weights would ignore it).

Example
-------
>>> import torch
>>> m = ResNeXtLSTM(hidden=32, backbone="tiny").eval()
>>> m(torch.zeros(1, 10, 3, 32, 32))[1].shape
torch.Size([1, 2])
"""

from __future__ import annotations

import torch
from torch import nn

SEQUENCE_LENGTHS = (10, 20, 40, 60, 80, 100)
INPUT_SIZE = 112
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLASSES = ("authentic", "manipulated")


def _backbone(kind: str) -> tuple[nn.Module, int]:
    """Feature extractor (no pooling, no classifier) and its channel count."""
    if kind == "tiny":  # for tests only: same interface, a few thousand parameters
        net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        return net, 16
    from forensics.api import import_torchvision

    tv = import_torchvision()
    if kind == "resnext50_32x4d":
        net = tv.models.resnext50_32x4d(weights=None)
    elif kind == "resnet18":
        net = tv.models.resnet18(weights=None)
    else:
        raise ValueError(f"unknown backbone {kind!r}")
    channels = net.fc.in_features
    return nn.Sequential(*list(net.children())[:-2]), channels


class ResNeXtLSTM(nn.Module):
    """``forward(x)`` with ``x`` of shape ``(batch, time, 3, H, W)`` returns ``(fmap, logits)``.

    ``fmap``: ``(batch·time, C, h, w)`` last convolutional map; ``logits``: ``(batch, 2)``.
    """

    def __init__(self, hidden: int = 2048, lstm_layers: int = 1, dropout: float = 0.4,
                 backbone: str = "resnext50_32x4d") -> None:
        super().__init__()
        self.backbone_name = backbone
        self.model, channels = _backbone(backbone)
        self.channels = channels
        self.hidden = hidden
        self.lstm = nn.LSTM(channels, hidden, lstm_layers, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(hidden, 2)

    def head(self, fmap: torch.Tensor, batch: int, time: int) -> torch.Tensor:
        """Pool, LSTM, mean over time, dropout, linear: ``(batch·time, C, h, w)`` -> ``(batch, 2)``."""
        feats = fmap.float().mean(dim=(2, 3)).view(batch, time, self.channels)
        out, _ = self.lstm(feats)
        return self.linear(self.dropout(out.mean(dim=1)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, c, h, w = x.shape
        fmap = self.model(x.reshape(b * t, c, h, w))
        return fmap, self.head(fmap, b, t)

    def config(self) -> dict:
        return {"backbone": self.backbone_name, "hidden": self.hidden, "lstm_layers": self.lstm.num_layers,
                "dropout": self.dropout.p, "input_size": INPUT_SIZE}


def grad_cam(model: ResNeXtLSTM, fmap: torch.Tensor, batch: int, time: int, target: int = 1) -> torch.Tensor:
    """Grad-CAM maps ``(batch·time, h, w)`` in [0, 1] for class ``target`` from a detached ``fmap``.

    Only the head (pool, LSTM, linear) is differentiated, so this costs little on top
    of the forward pass. Dropout is off (``model.eval()``).
    """
    fm = fmap.detach().float().requires_grad_(True)
    with torch.enable_grad():
        logits = model.head(fm, batch, time)
        grads, = torch.autograd.grad(logits[:, target].sum(), fm)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * fm.detach()).sum(dim=1))
    peak = cam.flatten(1).amax(dim=1).clamp(min=1e-12)[:, None, None]
    return cam / peak


def normalise(frames_uint8: torch.Tensor) -> torch.Tensor:
    """``(..., H, W, 3)`` uint8 RGB -> ``(..., 3, H, W)`` float, ImageNet mean/std."""
    x = frames_uint8.float().div_(255.0).movedim(-1, -3)
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype).view(3, 1, 1)
    return (x - mean) / std


def pick_device(requested: str = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU. ``"cuda"`` without a GPU raises."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(requested)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("CUDA was requested but torch.cuda.is_available() is False")
    return dev


def count_parameters(model: nn.Module) -> dict[str, int]:
    parts = {"backbone": model.model, "lstm": model.lstm, "linear": model.linear}
    out = {k: sum(p.numel() for p in v.parameters()) for k, v in parts.items()}
    out["total"] = sum(out.values())
    return out
