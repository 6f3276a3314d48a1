"""Accuracy cost of a narrower LSTM in the ResNeXt-LSTM: head-only ablation on frozen features.

The seed design uses an LSTM 2048 wide (33.6 M parameters, ≈67 MB in fp16 on top of the
backbone's 46 MB). To see what a narrower LSTM costs, this keeps the backbone of the
installed model fixed, extracts its 2048-d features once for ``--frames`` consecutive
face crops per video (from the training crop cache), and trains only the head
(LSTM → mean over time → dropout 0.4 → linear) for each width, with leave-one-identity-
group-out cross-validation (every group of videos sharing a face is held out once).
It prints the pooled out-of-fold AUC per width, plus the head's parameter count and its
fp16 size.

Usage::

    python benchmarks/resnext_lstm_width.py --data ../shared/data/face_video [--widths 2048 512 256]

Caveat printed with the result: with a few dozen videos and a backbone trained from
scratch on them, every width may be at chance; then the cost cannot be resolved here.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--widths", type=int, nargs="+", default=[2048, 512, 256])
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import numpy as np
    import torch
    from sklearn.metrics import roc_auc_score

    from forensics.datasets import identity_components, read_dataset
    from forensics.models import load_card
    from forensics_plugins.resnext_lstm.data import cached_crops, window_starts
    from forensics_plugins.resnext_lstm.model import normalise
    from forensics_plugins.resnext_lstm.train import load_weights

    card = load_card("resnext_lstm")
    model = load_weights(card.path("weights"), card.data["config"])
    samples = read_dataset(args.data, kinds=("video",))
    comps = identity_components(samples)
    t0 = time.time()
    feats, ys, groups = [], [], []
    for s, g in zip(samples, comps):
        crops, _ = cached_crops(s.path)
        if crops is None or len(crops) < args.frames:
            continue
        st = window_starts(len(crops), args.frames, 1)[0]
        x = normalise(torch.from_numpy(np.ascontiguousarray(crops[st:st + args.frames])))
        with torch.inference_mode():
            f = model.model(x).mean(dim=(2, 3))
        feats.append(f.numpy())
        ys.append(s.label)
        groups.append(g)
    X, y, groups = np.stack(feats), np.array(ys), np.array(groups)
    print(f"features: {len(y)} videos ({y.sum()} manipulated) x {args.frames} frames, {len(set(groups))} identity "
          f"groups, {time.time() - t0:.0f} s", flush=True)

    def head(width: int):
        lstm = torch.nn.LSTM(X.shape[2], width, 1, batch_first=True)
        lin = torch.nn.Linear(width, 2)
        return torch.nn.ModuleDict({"lstm": lstm, "lin": lin})

    def forward(h, xb, train):
        out, _ = h["lstm"](xb)
        z = out.mean(1)
        z = torch.nn.functional.dropout(z, 0.4, train)
        return h["lin"](z)

    for width in args.widths:
        t = time.time()
        oof = np.zeros(len(y))
        for g in sorted(set(groups)):
            te, tr = groups == g, groups != g
            torch.manual_seed(args.seed)
            h = head(width)
            opt = torch.optim.Adam(h.parameters(), lr=args.lr, weight_decay=1e-3)
            xtr, ytr = torch.from_numpy(X[tr]), torch.from_numpy(y[tr])
            w = torch.tensor([len(ytr) / (2 * (ytr == 0).sum()), len(ytr) / (2 * (ytr == 1).sum())], dtype=torch.float32)
            rng = np.random.default_rng(args.seed)
            for _ in range(args.epochs):
                for b in np.array_split(rng.permutation(len(ytr)), max(1, len(ytr) // 4)):
                    opt.zero_grad()
                    loss = torch.nn.functional.cross_entropy(forward(h, xtr[b], True), ytr[b], weight=w)
                    loss.backward()
                    opt.step()
            with torch.no_grad():
                oof[te] = torch.softmax(forward(h, torch.from_numpy(X[te]), False), 1)[:, 1].numpy()
        n_par = sum(p.numel() for p in h.parameters())
        print(f"LSTM width {width:>5}: head {n_par:>11,} parameters ({2 * n_par / 1e6:6.1f} MB fp16), "
              f"leave-one-group-out AUC {roc_auc_score(y, oof):.3f} on {len(y)} videos ({time.time() - t:.0f} s)", flush=True)
    print("caveat: tiny data, backbone trained from scratch on it; differences of ±0.2 AUC are noise at this size", flush=True)


if __name__ == "__main__":
    main()
