"""Make untrusted text safe to show: terminals, logs and reports.

File names and metadata come from the evidence, i.e. from whoever made it. A name can hold a newline
(forging a log line), ``ESC [`` sequences or a carriage return (rewriting a terminal line), or a
Unicode bidirectional override (``evil\u202egpj.exe`` displays as ``evilexe.jpg``). :func:`safe_text`
replaces every control, format (bidi, zero-width) and unassigned/private character by a visible
``\\uXXXX`` / ``\\xNN`` escape; :func:`has_hidden_characters` tells whether it had to.
"""

from __future__ import annotations

import unicodedata

_ALLOWED_CONTROLS = {"\t"}


def _needs_escape(ch: str) -> bool:
    if ch in _ALLOWED_CONTROLS:
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


def safe_text(text: object) -> str:
    """``text`` with every invisible or control character shown as an escape (``\\x1b``, ``\\u202e``)."""
    s = str(text)
    if all(not _needs_escape(c) for c in s):
        return s
    return "".join(_escape(c) if _needs_escape(c) else c for c in s)


def has_hidden_characters(text: object) -> bool:
    """True when :func:`safe_text` would change ``text`` (control, bidi or other invisible characters)."""
    return any(_needs_escape(c) for c in str(text))


__all__ = ["safe_text", "has_hidden_characters"]
