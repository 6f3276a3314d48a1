"""Write the synthetic-image part of the fusion validation data again, from the synthetic detector's card.

    python benchmarks/synthetic_fusion_set.py DATA OUT

DATA: the folder the synthetic card's training command reads as ``$DATA`` (``benchmarks/synthetic_data.py`` lays
out ``DATA/synthetic``; ``DATA/face_image`` and ``DATA/face_real`` are ``../shared/data``'s). OUT gets one folder
per held-out generator (``real/``, ``fake/``) and a ``MANIFEST.csv``: the test view of every file the card's
``out_of_fold`` table lists (``forensics_plugins.synthetic.train.rebuild_fusion_set``), so that ``forensics
evaluate`` on them, with the card's out-of-fold scores substituted, is what ``models/fusion`` was fitted on. No
training: the card's ``--fake NAME=DIR`` / ``--real NAME=DIR`` arguments name the folders.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from forensics.api import builtin_models_dir
from forensics_plugins.synthetic.train import rebuild_fusion_set


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    data, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    card = json.loads((builtin_models_dir() / "synthetic" / "card.json").read_text(encoding="utf-8"))
    oof = card.get("out_of_fold") or []
    if not oof:
        raise SystemExit("the installed synthetic card has no out_of_fold table (train it with --fusion-set)")
    args = shlex.split(card["training"]["command"].replace("$DATA", str(data)))
    pairs: dict[str, list[tuple[str, Path]]] = {"--fake": [], "--real": []}
    for flag, value in zip(args, args[1:]):
        if flag in pairs:
            name, _, folder = value.partition("=")
            pairs[flag].append((name, Path(folder)))
    info_path = Path(__file__).resolve().parents[1] / "forensics_plugins" / "synthetic" / "data_sources.json"
    info = json.loads(info_path.read_text(encoding="utf-8"))
    written = rebuild_fusion_set(oof, pairs["--fake"], pairs["--real"], out, info)
    for g, n in sorted(written.items()):
        print(f"{g}: {n} files")
    if sum(written.values()) != len(oof):
        raise SystemExit(f"only {sum(written.values())} of {len(oof)} files could be written")


if __name__ == "__main__":
    main()
