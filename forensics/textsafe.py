"""Make untrusted text safe to show: terminals, logs and reports.

File names and metadata come from the evidence, i.e. from whoever made it. A name can hold a newline
(forging a log line), ``ESC [`` sequences or a carriage return (rewriting a terminal line), or a
Unicode bidirectional override (``evil\u202egpj.exe`` displays as ``evilexe.jpg``). :func:`safe_text`
replaces every control, format (bidi, zero-width) and unassigned/private character by a visible
``\\uXXXX`` / ``\\xNN`` escape; :func:`has_hidden_characters` tells whether it had to.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

_ALLOWED_CONTROLS = {"\t"}


def _needs_escape(ch: str, keep: frozenset[str] | set[str] = frozenset()) -> bool:
    if ch in _ALLOWED_CONTROLS or ch in keep:
        return False
    cat = unicodedata.category(ch)
    # Cc control, Cf format (bidi overrides, zero-width), Cs surrogate, Co private use, Cn unassigned,
    # Zl / Zp line and paragraph separators.
    return cat in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def _escape(ch: str) -> str:
    o = ord(ch)
    if o < 0x100:
        return f"\\x{o:02x}"
    if o < 0x10000:
        return f"\\u{o:04x}"
    return f"\\U{o:08x}"


def safe_text(text: object, keep_newlines: bool = False) -> str:
    """``text`` with every invisible or control character shown as an escape (``\\x1b``, ``\\u202e``).

    ``keep_newlines`` leaves ``\\n`` alone (HTML ``<pre>`` blocks, where a line break forges nothing).
    """
    s = str(text)
    if s.isascii() and (s.replace("\t", "").replace("\n", "") if keep_newlines else s.replace("\t", "")).isprintable():
        return s  # fast path: printable ASCII
    keep = {"\n"} if keep_newlines else set()
    if all(not _needs_escape(c, keep) for c in s):
        return s
    return "".join(_escape(c) if _needs_escape(c, keep) else c for c in s)


def json_line(obj: Any) -> str:
    """``obj`` as one line of JSON in which no character can act on a terminal or a reader.

    ``json.dumps`` already escapes C0 controls (a newline becomes ``\\n``, so no line can be forged);
    this also escapes DEL, C1 controls, bidi overrides, zero-width and other invisible characters and
    lone surrogates as ``\\uXXXX``, which any JSON reader decodes back to the same string.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))
    if text.isascii() and "\x7f" not in text:
        return text  # fast path: json.dumps already escaped every C0 control
    if all(not _needs_escape(c) for c in text):
        return text
    out = []
    for c in text:
        if _needs_escape(c):
            o = ord(c)
            if o > 0xFFFF:
                o -= 0x10000
                out.append(f"\\u{0xD800 + (o >> 10):04x}\\u{0xDC00 + (o & 0x3FF):04x}")
            else:
                out.append(f"\\u{o:04x}")
        else:
            out.append(c)
    return "".join(out)


def has_hidden_characters(text: object) -> bool:
    """True when :func:`safe_text` would change ``text`` (control, bidi or other invisible characters)."""
    s = str(text)
    if s.isascii() and s.replace("\t", "").isprintable():
        return False
    return any(_needs_escape(c) for c in s)


__all__ = ["safe_text", "has_hidden_characters", "json_line"]
