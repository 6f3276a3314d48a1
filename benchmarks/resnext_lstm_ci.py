"""ResNeXt-LSTM: the headline AUC with its bootstrap 95 % interval, from the card's stored held-out predictions.

Usage: python benchmarks/resnext_lstm_ci.py [--model-dir models/resnext_lstm] [--resamples 2000] [--write]

Prints the AUC, its interval, the counts and whether the detector may vote (the interval must
exclude 0.5; ``forensics.api.useful_level``). ``--write`` rewrites ``card.json`` and ``MODEL_CARD.md``
with the recomputed figure (``forensics.api.write_model_card``); the weights are not touched.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from forensics_plugins.resnext_lstm.card import refresh_card, useful

DEFAULT = Path(__file__).resolve().parents[1] / "models" / "resnext_lstm"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=DEFAULT)
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--write", action="store_true", help="rewrite the card with the recomputed figure")
    args = ap.parse_args()
    if not (args.model_dir / "card.json").is_file():
        print(f"no card.json in {args.model_dir}")
        return 1
    card = refresh_card(args.model_dir, args.resamples, write=args.write)
    m = card["metrics"]
    ok, figure = useful(m)
    print(f"held-out predictions: {m.get('n_test')} videos ({m.get('n_test_negative')} authentic, "
          f"{m.get('n_test_positive')} manipulated); {m.get('kind')}; {m.get('dataset')}")
    print(f"AUC {m.get('auc')}  95 % CI {m.get('auc_ci95')}  EER {m.get('eer')}  ({args.resamples} bootstrap resamples)")
    print(("votes: " if ok else "does not vote (reports 'unavailable: not trained to a useful level'): ") + figure)
    if args.write:
        print(f"rewrote {args.model_dir / 'card.json'} and MODEL_CARD.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
