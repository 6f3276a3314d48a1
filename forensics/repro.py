"""Reproduction commands: one builder for reports and model cards.

A report must say exactly how to re-run what produced it; a model card exactly how to retrain its
weights, without leaking the developer's machine (home folders, temp folders, sibling checkouts).

* :func:`reproduction` -- for an analysis: the working folder and the complete, shell-quoted command
  line as it was typed (every option kept), so an examiner can repeat it on the same machine.
* :func:`training_command` -- for a model card: the same command line with every path argument made
  portable: paths inside a folder named ``data`` become ``$DATA/<rest>``, other paths outside the
  working folder become ``$DATA/<folder name>`` (the card's data table names what ``$DATA`` holds).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Sequence


def _argv(argv: Sequence[str] | None) -> list[str]:
    args = list(sys.argv[1:] if argv is None else argv)
    return ["forensics", *args]


def reproduction(argv: Sequence[str] | None = None, cwd: str | None = None) -> dict[str, str]:
    """``{"cwd", "command", "shell"}`` for the current (or given) ``forensics`` invocation.

    ``shell`` is one line that can be pasted: ``cd '<cwd>' && forensics analyze …``.
    """
    cwd = cwd or os.getcwd()
    cmd = shlex.join(_argv(argv))
    return {"cwd": cwd, "command": cmd, "shell": f"cd {shlex.quote(cwd)} && {cmd}"}


def portable_path(value: str, cwd: str | None = None) -> str:
    """A path argument rewritten so it names no developer machine (see the module docstring)."""
    cwd = os.path.abspath(cwd or os.getcwd())
    p = Path(os.path.abspath(os.path.join(cwd, value)))
    parts = p.parts
    if "data" in parts:
        i = len(parts) - 1 - parts[::-1].index("data")
        rest = "/".join(parts[i + 1:])
        return "$DATA" + (f"/{rest}" if rest else "")
    try:
        rel = p.relative_to(cwd)
        return str(rel) if str(rel) != "." else "."
    except ValueError:
        return f"$DATA/{p.name}"


def training_command(argv: Sequence[str] | None = None, cwd: str | None = None) -> str:
    """The training command line for a model card, with portable paths (see :func:`portable_path`)."""
    out = []
    for a in _argv(argv):
        key, eq, val = a.partition("=")
        if eq and key.startswith("--") and _looks_like_path(val, cwd):
            out.append(f"{key}={portable_path(val, cwd)}")
        elif not a.startswith("-") and _looks_like_path(a, cwd):
            out.append(portable_path(a, cwd))
        else:
            out.append(a)
    return " ".join(x if x.startswith("$DATA") else shlex.quote(x) for x in out)


def _looks_like_path(a: str, cwd: str | None = None) -> bool:
    """An existing file or folder, or a slash / dot-led word without whitespace (an output path yet to be
    written); free text such as a ``--note`` that merely mentions ``owner/repo`` is not a path."""
    if not a:
        return False
    if os.path.exists(os.path.join(cwd or os.getcwd(), a)):
        return True
    return (os.sep in a or a.startswith(".")) and not any(c.isspace() for c in a)


__all__ = ["reproduction", "training_command", "portable_path"]
