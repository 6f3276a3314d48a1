"""Model cards: one writer and one Markdown template for every model in ``models/``.

A model card is the court-facing record of a trained model (Mitchell et al., "Model Cards for Model
Reporting", FAT* 2019). ``card.json`` is the machine-readable card; ``MODEL_CARD.md`` is rendered
from it by the single template ``templates/model_card.md.j2``, so every card has the same sections.

Fields of ``card.json`` read by the template (all optional except ``name`` and ``files``):

``name``, ``version``, ``title``, ``detector`` (import path), ``method`` (citation), ``summary``,
``status``, ``architecture`` (Markdown);
``metrics`` -- the headline error rate that reports quote (a :func:`forensics.metrics.roc_metrics`
dict plus ``dataset`` and ``kind``: ``"cross-source"`` or ``"in-source"``);
``evaluations`` -- ``{name: metrics}`` for further measurements;
``data`` -- a list of ``{name, version, role, source, count, licence, label}`` (every training and
validation source: repository, commit, paths, how the label is known);
``training`` -- ``{command, ...}`` (the exact reproduction command and scalar settings);
``sections`` -- a list of ``{title, body}`` Markdown sections particular to the detector;
``limitations`` -- a list of strings;
``files`` -- ``{key: {path, sha256}}`` (hashes filled in by :func:`write_model_card`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from forensics.models import sha256_file


def _fmt(x: Any) -> str:
    if x is None or x == "":
        return "n/a"
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


def _auc(m: dict[str, Any] | None) -> str:
    if not m or m.get("auc") is None:
        return "n/a"
    ci = m.get("auc_ci95")
    return f"{m['auc']:.3f}" + (f" ({ci[0]:.2f}–{ci[1]:.2f})" if ci else "")


def render_model_card(card: dict[str, Any]) -> str:
    """Render ``MODEL_CARD.md`` for a card dictionary (see the module docstring for its fields)."""
    import jinja2

    from forensics.report import templates_dir

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=False,
                             keep_trailing_newline=True, trim_blocks=False, lstrip_blocks=False,
                             undefined=jinja2.ChainableUndefined)
    text = env.get_template("model_card.md.j2").render(card=card, fmt=_fmt, auc=_auc)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


def write_model_card(directory: str | Path, card: dict[str, Any]) -> Path:
    """Hash every file listed in ``card["files"]``, write ``card.json`` and the rendered ``MODEL_CARD.md``.

    Returns the path of ``card.json``. Files are written whole (temporary file + rename), so a crash never
    leaves a card that lists hashes of weights it does not describe.
    """
    from forensics.report import atomic_write

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for spec in (card.get("files") or {}).values():
        spec["sha256"] = sha256_file(directory / spec["path"])
    atomic_write(directory / "card.json", (json.dumps(card, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    atomic_write(directory / "MODEL_CARD.md", render_model_card(card).encode("utf-8"))
    return directory / "card.json"


__all__ = ["render_model_card", "write_model_card"]
