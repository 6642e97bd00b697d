"""What ``send-many`` shows and writes while it sends: the progress meter and the --report CSV."""

from __future__ import annotations

import csv
import time
from typing import IO, Any, Optional, TextIO

from textflow._cli.parser import UsageError
from textflow._many._outcomes import SENT, SKIPPED, Outcome, Progress

#: Seconds between progress lines when stderr is not a terminal.
PLAIN_PROGRESS_EVERY = 10.0
#: Seconds between redraws of the progress bar on a terminal.
BAR_REDRAW_EVERY = 0.1


class Meter:
    """Progress on stderr: a redrawn bar on a terminal, a plain line now and then otherwise."""

    def __init__(self, total: int, stream: TextIO, clock: Any = time.monotonic) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.clock = clock
        self.last = -float("inf")
        self.drawn = False

    def __call__(self, progress: Progress) -> None:
        now = self.clock()
        finished = progress.done >= self.total
        every = BAR_REDRAW_EVERY if self.tty else PLAIN_PROGRESS_EVERY
        if not finished and now - self.last < every:
            return
        self.last = now
        line = self.line(progress)
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
            self.drawn = True
        else:
            self.stream.write(f"progress: {line}\n")
        self.stream.flush()

    def line(self, progress: Progress) -> str:
        total = max(self.total, progress.done)
        width = 20
        filled = width * progress.done // total if total else width
        rate = progress.done / progress.elapsed if progress.elapsed > 0 else 0.0
        left = total - progress.done
        eta = f"{left / rate:.0f}s" if rate > 0 else "?"
        return (
            f"[{'#' * filled}{'.' * (width - filled)}] {progress.done}/{total} "
            f"{rate:.1f}/s ETA {eta}  sent {progress.sent} refused {progress.refused} "
            f"maybe {progress.maybe_sent} skipped {progress.skipped}"
        )

    def end(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


class ReportWriter:
    """``--report``: one CSV row per recipient, written as each finishes."""

    def __init__(self, path: Optional[str], lines: dict[int, int]) -> None:
        self.lines = lines
        self.handle: Optional[IO[str]] = None
        if path is not None:
            try:
                self.handle = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            except OSError as exc:
                raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
            self.writer = csv.writer(self.handle)
            self.writer.writerow(["line", "phone_number", "status", "detail"])

    def write(self, outcome: Outcome) -> None:
        if self.handle is None:
            return
        if outcome.status == SENT and outcome.result is not None:
            detail = outcome.result.message
        elif outcome.status == SKIPPED:
            detail = f"journal says {outcome.previous}"
        else:
            detail = str(outcome.error)
        line = self.lines.get(outcome.index, "")
        self.writer.writerow([line, outcome.phone_number, outcome.status, detail])

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
