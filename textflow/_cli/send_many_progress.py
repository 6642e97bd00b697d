"""What ``send-many`` shows and writes while it sends: the progress meter and the --report CSV."""

from __future__ import annotations

import csv
import math
import time
from collections import deque
from typing import IO, Callable, Optional, TextIO

from textflow._cli.parser import UsageError
from textflow._many._outcomes import SENT, SKIPPED, Outcome, Progress

#: Seconds between progress lines when stderr is not a terminal...
PLAIN_PROGRESS_EVERY = 10.0
#: ...or sooner, at every this share of the recipients.
PLAIN_PROGRESS_STEP = 0.10
#: Seconds between redraws of the progress bar on a terminal.
BAR_REDRAW_EVERY = 0.1
#: Rate and ETA are measured over this many recent seconds of the run.
RATE_WINDOW = 30.0


class Meter:
    """Progress on stderr: a redrawn bar on a terminal, a plain line now and then otherwise.

    Rate and ETA come from the recipients this run tried (sent, refused, maybe
    sent) over the last ``RATE_WINDOW`` seconds: rows a resumed run skips (the
    journal had them) finish at once and would make the rate a lie.

    Args:
        total: The recipients of the run.
        stream: Where to write (stderr).
        clock: Seconds, monotonic; injected by tests.
    """

    def __init__(
        self, total: int, stream: TextIO, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.clock = clock
        self.last = -float("inf")
        self.last_step = 0
        self.drawn = False
        self.tried = 0  # this run's tries: every outcome but skipped
        self.samples: deque[tuple[float, int]] = deque()  # (time, tried) in the window

    def __call__(self, progress: Progress) -> None:
        now = self.clock()
        if progress.outcome.status != SKIPPED:
            self.tried += 1
        self.samples.append((now, self.tried))
        while len(self.samples) > 2 and now - self.samples[1][0] >= RATE_WINDOW:
            self.samples.popleft()
        finished = progress.done >= self.total
        if self.tty:
            due = now - self.last >= BAR_REDRAW_EVERY
        else:
            step = self._step(progress.done)
            due = now - self.last >= PLAIN_PROGRESS_EVERY or step > self.last_step
        if not (finished or due):
            return
        self.last = now
        self.last_step = self._step(progress.done)
        line = self.line(progress)
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
            self.drawn = True
        else:
            self.stream.write(f"progress: {line}\n")
        self.stream.flush()

    def _step(self, done: int) -> int:
        """Which tenth of the recipients ``done`` is in."""
        return int(done * 10 // self.total) if self.total else 10

    def rate(self) -> Optional[float]:
        """Tries a second over the recent window; None before there are two to measure."""
        (start, tried_then), (end, tried_now) = self.samples[0], self.samples[-1]
        if end <= start or tried_now <= tried_then:
            return None
        return (tried_now - tried_then) / (end - start)

    def line(self, progress: Progress) -> str:
        total = max(self.total, progress.done)
        width = 20
        filled = width * progress.done // total if total else width
        left = total - progress.done
        rate = self.rate() if self.samples else None
        if left == 0:
            pace = "done"
        elif rate is None:
            pace = "?/s ETA ?"
        else:
            pace = f"{rate:.1f}/s ETA {_duration(left / rate)}"
        return (
            f"[{'#' * filled}{'.' * (width - filled)}] {progress.done}/{total} "
            f"{pace}  sent {progress.sent} refused {progress.refused} "
            f"maybe {progress.maybe_sent} skipped {progress.skipped}"
        )

    def end(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h10m``: rounded up, never ``0s`` while some are left."""
    whole = max(1, math.ceil(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


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
