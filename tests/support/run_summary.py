"""Lines a suite prints as it goes and again in pytest's closing summary (seen without -s too)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest


@dataclass
class RunSummary:
    title: str  # the summary section's title, and each line's tag as it is printed
    lines: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        self.lines.append(line)
        print(f"\n[{self.title}] {line}", flush=True)

    def write(self, reporter: pytest.TerminalReporter) -> None:
        if self.lines:
            reporter.section(self.title)
            for line in self.lines:
                reporter.write_line(line)
