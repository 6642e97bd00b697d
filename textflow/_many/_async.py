"""``AsyncTextFlowClient.send_many``: one dispatching task, ``concurrency`` sending tasks.

A journal (SQLite, Redis, Postgres, a user's own) and a rate limit shared
through Redis block: their calls run in worker threads (``anyio.to_thread``),
one at a time per recipient and in the same order as in the sync driver (the
claim is written before the send starts, the outcome after it ends), so the
event loop keeps serving the other sends meanwhile. The outcomes of sends that
ended together go to the journal in one hop (`Records`). ``on_progress`` is still
called on the event loop, never from a thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Iterable, Iterator
from typing import TYPE_CHECKING, Callable, Optional, TypeVar, Union

import anyio

from textflow._config import DEFAULT_CONCURRENCY
from textflow._many._batch import Ticket
from textflow._many._interrupt import CtrlC
from textflow._many._outcomes import SendReport, StopOn
from textflow._many._recipients import DEFAULT_PHONE_FIELD, Prepared, Recipient
from textflow._many._run import (
    Ended,
    JournalArg,
    ProgressCallback,
    Run,
    length,
    open_journal,
    open_limiter,
    settings,
)
from textflow._many._sender import AsyncSender

if TYPE_CHECKING:
    from anyio.abc import TaskGroup


Recipients = Union[Iterable[Recipient], AsyncIterable[Recipient]]
T = TypeVar("T")
#: Worker threads one run uses at most for its journal and rate-limit calls.
MAX_THREADS = 32


async def send_many(
    client: AsyncSender,
    recipients: Recipients,
    text: Optional[str] = None,
    *,
    phone_field: str = DEFAULT_PHONE_FIELD,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_per_second: Optional[float] = None,
    on_progress: Optional[ProgressCallback] = None,
    stop_on: Optional[StopOn] = None,
    journal: JournalArg = None,
    resend_maybe_sent: bool = False,
    keep_outcomes: Optional[bool] = None,
    max_per_minute: Optional[float] = None,
    rate_limit: Optional[str] = None,
    _clock: Callable[[], float] = time.monotonic,
    _sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> SendReport:
    """See ``AsyncTextFlowClient.send_many``."""
    options = settings(
        text=text,
        phone_field=phone_field,
        concurrency=concurrency,
        max_per_second=max_per_second,
        on_progress=on_progress,
        stop_on=stop_on,
        resend_maybe_sent=resend_maybe_sent,
        keep_outcomes=keep_outcomes,
        max_per_minute=max_per_minute,
        rate_limit=rate_limit,
    )
    store, owned = open_journal(journal)
    limiter = None
    try:
        limiter = open_limiter(options, journal, _clock)
        run = Run(options, store, length(recipients), _clock, limiter)
        blocking = store is not None or (limiter is not None and not run.local_limit)
        io = _Blocking(min(options.concurrency + 1, MAX_THREADS)) if blocking else _Inline()
        run.defer_progress = blocking
        slots = anyio.Semaphore(options.concurrency)
        dispatching = anyio.CancelScope()

        def ctrl_c() -> None:  # a real SIGINT on asyncio: no new sends, as in sync
            run.interrupted = KeyboardInterrupt()
            dispatching.cancel()

        async with anyio.create_task_group() as group:
            try:
                with CtrlC(ctrl_c), dispatching:
                    await _dispatch(
                        client, _Items(recipients), run, io, group, slots, _sleep, Records()
                    )
            except KeyboardInterrupt as exc:  # Ctrl-C: sends in flight finish, as in sync
                run.interrupted = exc
            except Exception as exc:  # from the input, the journal or a recipient we cannot read
                run.fail(exc)
    finally:
        try:
            if limiter is not None:
                limiter.close()
        finally:
            if owned and store is not None:
                store.close()
    run.flush_progress()
    return run.result()


class _Inline:
    """No journal and a local rate limit: nothing blocks, call at once."""

    async def __call__(self, run: Run, function: Callable[..., T], *args: object) -> T:
        return function(*args)


class _Blocking:
    """Run a journal or shared-limit call in a worker thread, then hand the progress it
    made to ``on_progress`` here, on the event loop."""

    def __init__(self, threads: int) -> None:
        self._limiter = anyio.CapacityLimiter(threads)

    async def __call__(self, run: Run, function: Callable[..., T], *args: object) -> T:
        try:
            return await anyio.to_thread.run_sync(function, *args, limiter=self._limiter)
        finally:
            run.flush_progress()


Call = Union[_Inline, _Blocking]


class _Items:
    """The recipients, numbered, from an iterable or an async iterable."""

    def __init__(self, recipients: Recipients) -> None:
        self._sync: Optional[Iterator[Recipient]] = None
        self._async: Optional[AsyncIterator[Recipient]] = None
        if isinstance(recipients, AsyncIterable):
            self._async = recipients.__aiter__()
        else:
            self._sync = iter(recipients)
        self._index = -1

    async def next(self) -> Optional[tuple[int, object]]:
        """The next (index, recipient), or None at the end."""
        try:
            if self._sync is not None:
                item: object = next(self._sync)
            else:
                assert self._async is not None
                item = await self._async.__anext__()
        except (StopIteration, StopAsyncIteration):
            return None
        self._index += 1
        return self._index, item


async def _dispatch(
    client: AsyncSender,
    items: _Items,
    run: Run,
    io: Call,
    group: TaskGroup,
    slots: anyio.Semaphore,
    sleep: Callable[[float], Awaitable[None]],
    records: Records,
) -> None:
    """Start sends, never more than ``concurrency`` at once: as many as there are free
    slots are claimed in one step (``run.batch`` at most), then started; after a step
    whose recipients other workers held, further ahead (`Run.ahead`, as in sync)."""
    exhausted = False
    spread = 1.0  # recipients to ask for per free slot
    while not exhausted and not run.stopped():
        await slots.acquire()
        free = 1
        while free < run.batch:
            try:
                slots.acquire_nowait()
            except anyio.WouldBlock:
                break
            free += 1
        want = min(run.batch, max(free, math.ceil(free * spread)))
        started = 0
        try:
            jobs: list[Prepared] = []
            exhausted = True
            while True:
                found = await items.next()
                if found is None:
                    break
                if run.admit_reads_journal:
                    job = await io(run, run.admit, *found)
                else:
                    job = run.admit(*found)
                if job is not None:
                    jobs.append(job)
                if len(jobs) == want or run.stopped():
                    exhausted = False
                    break
            claimed = await io(run, run.claim_all, jobs) if jobs and not run.stopped() else []
            spread = run.ahead(spread, len(jobs), len(claimed))
            handed = 0  # claims started, or given back by _start
            try:
                for job in claimed:
                    if started == free:  # claimed ahead: wait for a send to end
                        await slots.acquire()
                        free += 1
                    handed += 1
                    if not await _start(client, job, run, io, group, slots, sleep, records):
                        break
                    started += 1
            finally:  # claims of a batch that will not be sent are given back
                for unsent in claimed[handed:]:
                    run.release(unsent)
        finally:
            for _ in range(free - started):
                slots.release()


async def _start(
    client: AsyncSender,
    job: Prepared,
    run: Run,
    io: Call,
    group: TaskGroup,
    slots: anyio.Semaphore,
    sleep: Callable[[float], Awaitable[None]],
    records: Records,
) -> bool:
    """Wait for the rate limit's turn, then start the send (its slot is the send's now);
    False (the claim given back) if the run stopped meanwhile."""
    permit = None
    try:
        while True:  # a permit, or (others hold them all) ask again later
            permit, wait = await io(run, run.turn)
            if wait:
                await sleep(wait)
            if permit is not None or run.stopped():
                break
    except BaseException:
        run.release(job, permit)  # at once, even when cancelled: the claim is given back
        raise
    if run.stopped():
        await io(run, run.release, job, permit)
        return False
    group.start_soon(_send, client, job, permit, run, io, slots, records)
    return True


async def _send(
    client: AsyncSender,
    job: Prepared,
    permit: object,
    run: Run,
    io: Call,
    slots: anyio.Semaphore,
    records: Records,
) -> None:
    try:
        if run.claim_stale(job) and not await io(run, run.still_claimed, job, permit):
            return  # another worker took it while this one stalled: not sent twice
        try:
            result = await client.send_sms(job.phone_number, job.text)
        except Exception as exc:
            await records.ended(run, io, (job, permit, exc))
        except BaseException as exc:  # cancelled mid-send: it may have gone out
            _failed(run, job, permit, exc)  # at once: a cancelled task awaits nothing more
            run.flush_progress()
            raise
        else:
            await records.ended(run, io, (job, permit, result))
    except Exception as exc:  # the journal or a callback failed: stop, and show it
        run.fail(exc)
    except KeyboardInterrupt as exc:  # Ctrl-C landed in this send: stop as in sync
        run.interrupted = exc
    finally:
        slots.release()


def _failed(run: Run, job: Prepared, permit: object, exc: BaseException) -> None:
    run.answered(permit)
    run.failed(job, exc)


class Records:
    """The outcomes of sends, handed to the journal one thread hop per batch of sends
    that ended together (`Run.ended`), not one per recipient.

    Each send waits until its own outcome is stored (it counts as done only then, and
    its slot is free only then); whoever finds no hop under way takes everything queued
    so far to a worker thread, the others wait for that hop, then for the next. Without
    a journal or a shared limit nothing blocks: each outcome is counted at once."""

    def __init__(self) -> None:
        self._queued: list[Ticket[Ended]] = []
        self._hop: Optional[anyio.Event] = None  # set when the hop under way ends

    async def ended(self, run: Run, io: Call, end: Ended) -> None:
        """Store and count ``end``; raise what the journal raised for its batch."""
        if isinstance(io, _Inline):
            run.ended([end])
            return
        ticket = Ticket(end)
        self._queued.append(ticket)
        while not ticket.done:
            if self._hop is not None:
                try:
                    await self._hop.wait()
                except BaseException:  # cancelled while waiting: not lost, stored at once
                    self._settle_now(run, ticket)
                    raise
                continue
            hop = self._hop = anyio.Event()
            batch, self._queued = self._queued, []
            ends = [queued.item for queued in batch]
            taken: list[bool] = []
            error: Optional[BaseException] = None
            try:
                # shielded: a cancelled sender still stores the batch it took (others' too)
                with anyio.CancelScope(shield=True):
                    await io(run, _store, run, ends, taken)
            except Exception as exc:  # the batch's error: raised by every send in it
                error = exc
            except BaseException:  # Ctrl-C before the hop took the batch: store it here
                if not taken:
                    _store_now(run, ends)
                raise
            finally:
                for queued in batch:
                    queued.done, queued.error = True, error
                self._hop = None
                hop.set()
        if ticket.error is not None:
            raise ticket.error

    def _settle_now(self, run: Run, ticket: Ticket[Ended]) -> None:
        """Store a cancelled sender's outcome on the loop, unless a hop took it already."""
        if ticket.done or ticket not in self._queued:
            return
        self._queued.remove(ticket)
        _store_now(run, [ticket.item])


def _store(run: Run, ends: list[Ended], taken: list[bool]) -> None:
    """The record hop's work (in a worker thread): ``taken`` says it began, after which
    `Run.ended` counts every one of ``ends``, stored or ``maybe_sent``, whatever it raises."""
    taken.append(True)
    run.ended(ends)


def _store_now(run: Run, ends: list[Ended]) -> None:
    """Store and count outcomes here, on the loop: their task is cancelled or interrupted
    and awaits nothing more (never marked done unstored)."""
    try:
        run.ended(ends)
    except Exception as exc:  # the run shows it
        run.fail(exc)
    finally:
        run.flush_progress()
