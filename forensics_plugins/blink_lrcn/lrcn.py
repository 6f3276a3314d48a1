"""The LRCN eye-state model: a small CNN per frame feeding an LSTM over the sequence.

Li, Chang & Lyu, "In Ictu Oculi: Exposing AI Created Fake Videos by Detecting Eye
Blinking", IEEE WIFS 2018 (arXiv:1806.02877), use a Long-term Recurrent
Convolutional Network (Donahue et al., CVPR 2015): a VGG16 feature extractor on
each eye crop, an LSTM (256 units) over time and a per-frame fully connected
layer giving the probability that the eye is closed. On a CPU budget we keep the
structure and shrink the parts:

* **CNN** on a 32×32 grey, per-crop standardised eye crop: three blocks of
  3×3 conv (32, 64, 128 channels; 16/32/64 before v1.2, chosen by validation loss), batch norm, ReLU and
  2×2 max-pool → 128×4×4 → FC 64
  (+ dropout) → a 64-d feature. A linear head on this feature gives the
  *per-frame* (CNN-only) P(closed), used to train the CNN and reported as an
  ablation.
* **LSTM**: one unidirectional layer, 32 units, over the per-frame features (as in
  LRCN: it sees only the past), then a linear layer → per-frame P(closed).

Each eye is a separate sequence; the detector averages the two eyes' probabilities.
About 0.24 M parameters (≈0.95 MB in float32).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .eyes import EYE_CROP_SIZE

FEATURE_DIM = 64
HIDDEN = 32
WIDTHS = (32, 64, 128)  # channels of the three conv blocks (older weights: 16, 32, 64; read from the file)


class EyeCNN(nn.Module):
    """Per-frame feature extractor: (N, 1, 32, 32) → (N, 64)."""

    def __init__(self, feature_dim: int = FEATURE_DIM, widths: tuple[int, int, int] = WIDTHS) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                    nn.MaxPool2d(2)]

        a, b, c = widths
        self.features = nn.Sequential(*block(1, a), *block(a, b), *block(b, c))
        side = EYE_CROP_SIZE // 8
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(c * side * side, feature_dim), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


class LRCN(nn.Module):
    """CNN per frame + LSTM over frames.

    ``forward(x)`` takes ``(B, T, 1, S, S)`` and returns ``(seq_logits, frame_logits)``,
    both ``(B, T)``: the LSTM's and the CNN-only per-frame logits of "eye closed".
    """

    def __init__(self, feature_dim: int = FEATURE_DIM, hidden: int = HIDDEN, widths: tuple[int, int, int] = WIDTHS) -> None:
        super().__init__()
        self.cnn = EyeCNN(feature_dim, widths)
        self.frame_head = nn.Linear(feature_dim, 1)
        self.lstm = nn.LSTM(feature_dim, hidden, batch_first=True)
        self.seq_head = nn.Linear(hidden, 1)

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, S, S)`` → ``(N, F)``."""
        return self.cnn(x)

    def sequence_logits(self, feats: torch.Tensor) -> torch.Tensor:
        """``(B, T, F)`` features → ``(B, T)`` LSTM logits."""
        out, _ = self.lstm(feats)
        return self.seq_head(out).squeeze(-1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t = x.shape[:2]
        f = self.cnn(x.reshape(b * t, *x.shape[2:]))
        frame = self.frame_head(f).reshape(b, t)
        return self.sequence_logits(f.reshape(b, t, -1)), frame


def save_weights(model: LRCN, path: Path) -> None:
    """Store the weights as safetensors (float32; the model is about 1 MB, fp16 would gain nothing worth the risk).

    Only the single metadata key ``format`` is written: safetensors serialises the
    metadata map in arbitrary order, so several keys would make the file's bytes (and
    SHA-256) differ between identical training runs.
    """
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={"format": "pt"})


def load_weights(path: Path) -> LRCN:
    from safetensors.torch import load_file

    state = load_file(str(path))
    # the conv widths are read from the tensors' shapes (blocks of 4 modules: conv, BN, ReLU, pool)
    widths = tuple(int(state[f"cnn.features.{4 * i}.weight"].shape[0]) for i in range(3))
    model = LRCN(widths=widths)
    model.load_state_dict(state)
    model.eval()
    return model


@torch.no_grad()
def eye_state(model: LRCN, crops: np.ndarray, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame P(eye closed) for one face track.

    Parameters
    ----------
    model : LRCN (in eval mode)
    crops : (T, 2, S, S) uint8
        Both eyes' crops for each of the track's T frames.

    Returns
    -------
    lrcn : (T,) float
        LSTM output, mean of the two eyes.
    cnn : (T,) float
        CNN-only per-frame output, mean of the two eyes.
    """
    from .eyes import normalise_crops

    t = len(crops)
    if t == 0:
        return np.zeros(0), np.zeros(0)
    # The network is tiny: one thread is enough, and several OpenMP threads on a busy machine were
    # measured ~10x slower (benchmarks/blink.py). Restored afterwards for the other detectors.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = torch.from_numpy(normalise_crops(crops)).reshape(t * 2, 1, crops.shape[-2], crops.shape[-1])
        feats = torch.cat([model.frame_features(x[i:i + batch]) for i in range(0, len(x), batch)])
        frame = torch.sigmoid(model.frame_head(feats)).reshape(t, 2)
        seq = feats.reshape(t, 2, -1).permute(1, 0, 2)  # one sequence per eye
        lrcn = torch.sigmoid(model.sequence_logits(seq)).permute(1, 0)
    finally:
        torch.set_num_threads(threads)
    return lrcn.mean(1).numpy().astype(np.float64), frame.mean(1).numpy().astype(np.float64)
