"""The object every command receives in ctx.obj: one console and the verbosity."""

from __future__ import annotations

from dataclasses import dataclass, field

import click
from rich.console import Console


@dataclass
class App:
    verbosity: int = 0  # -1 quiet, 0 normal, 1+ verbose
    out: Console = field(default_factory=lambda: Console(soft_wrap=True))  # data: tables, JSON
    # progress, warnings; a message stays one line in a log (not cut at 80 columns off a terminal)
    err: Console = field(default_factory=lambda: Console(stderr=True, soft_wrap=True))

    def info(self, message: str) -> None:
        if self.verbosity >= 0:
            self.err.print(message, highlight=False)

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/] {message}", highlight=False)

    def debug(self, message: str) -> None:
        if self.verbosity > 0:
            self.err.print(f"[dim]{message}[/]", highlight=False)

    @property
    def show_progress(self) -> bool:
        return self.verbosity >= 0


pass_app = click.make_pass_decorator(App, ensure=True)
