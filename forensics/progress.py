"""Progress reporting: one helper for every long step (analysis, evaluation, training).

On a terminal (standard error is a TTY) a rich progress bar is drawn; otherwise nothing is printed,
so logs and pipes stay clean. Code reports progress through a :class:`Progress` object or the
phase callback ``(phase, done, total, label)`` the engine uses; both work without a terminal.

Example
-------
>>> with progress("training", total=3) as bar:
...     for i in range(3):
...         bar.advance(label=f"epoch {i}")
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator

from forensics.textsafe import safe_text

PhaseCallback = Callable[[str, int, int, str], None]  # (phase, done, total, label)


class Progress:
    """Named tasks with a done / total count and a label (the current file, epoch, ...)."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._prog = None
        self._tasks: dict[str, int] = {}
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._prog = RichProgress(TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("[dim]{task.fields[label]}"),
                                      console=Console(stderr=True), transient=False)

    def __enter__(self) -> "Progress":
        if self._prog is not None:
            self._prog.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._prog is not None:
            self._prog.stop()

    def update(self, phase: str, done: int, total: int | None = None, label: str = "") -> None:
        """Set task ``phase`` to ``done`` of ``total``; ``label`` is shown escaped and shortened."""
        if self._prog is None:
            return
        from rich.markup import escape

        if phase not in self._tasks:
            self._tasks[phase] = self._prog.add_task(phase[:16], total=total, label="")
        self._prog.update(self._tasks[phase], completed=done, total=total,
                          label=escape(safe_text(label)[-50:]))

    def advance(self, phase: str = "", n: int = 1, label: str = "") -> None:
        if self._prog is None:
            return
        from rich.markup import escape

        key = phase or next(iter(self._tasks), "")
        if key not in self._tasks:
            self._tasks[key] = self._prog.add_task(key[:16], total=None, label="")
        self._prog.update(self._tasks[key], advance=n, label=escape(safe_text(label)[-50:]))

    def callback(self) -> PhaseCallback:
        """The engine's phase callback, drawing on this bar."""
        return lambda phase, done, total, label: self.update(phase, done, total, label)


class _Bar:
    def __init__(self, prog: Progress, phase: str, total: int | None) -> None:
        self.prog, self.phase, self.total, self.done = prog, phase, total, 0
        prog.update(phase, 0, total)

    def advance(self, n: int = 1, label: str = "") -> None:
        self.done += n
        self.prog.update(self.phase, self.done, self.total, label)

    def set_total(self, total: int) -> None:
        self.total = total
        self.prog.update(self.phase, self.done, total)


@contextmanager
def progress(description: str, total: int | None = None, enabled: bool | None = None) -> Iterator[_Bar]:
    """A single progress bar as a context manager: ``with progress("faces", n) as bar: bar.advance()``."""
    with Progress(enabled) as p:
        yield _Bar(p, description, total)


def track(iterable, description: str, total: int | None = None, enabled: bool | None = None):
    """Iterate with a progress bar (like ``rich.progress.track``, silent without a terminal)."""
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            total = None
    with progress(description, total, enabled) as bar:
        for x in iterable:
            yield x
            bar.advance()


__all__ = ["Progress", "PhaseCallback", "progress", "track"]
