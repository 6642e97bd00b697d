"""``TextFlowClient.send_many``: the caller's thread dispatches to ``concurrency`` sending
threads."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from functools import partial
from typing import Callable, Optional

from textflow._config import DEFAULT_CONCURRENCY
from textflow._many._outcomes import SendReport, StopOn
from textflow._many._recipients import DEFAULT_PHONE_FIELD, Prepared, Recipient
from textflow._many._run import (
    JournalArg,
    ProgressCallback,
    Run,
    length,
    open_journal,
    open_limiter,
    settings,
)
from textflow._many._sender import Sender
from textflow._many._threads import Crew, Slots


def send_many(
    client: Sender,
    recipients: Iterable[Recipient],
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
    _sleep: Callable[[float], None] = time.sleep,
) -> SendReport:
    """See ``TextFlowClient.send_many``."""
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
        _dispatch(client, recipients, run, _sleep)
    finally:
        try:
            if limiter is not None:
                limiter.close()
        finally:
            if owned and store is not None:
                store.close()
    return run.result()


def _dispatch(
    client: Sender,
    recipients: Iterable[Recipient],
    run: Run,
    sleep: Callable[[float], None],
) -> None:
    """Hand recipients to the sending threads, never more than ``concurrency`` sends at
    once: as many as there are free slots are claimed in one step (``run.batch`` at most),
    then sent.

    A step whose recipients other workers held looks further ahead next time (`Run.ahead`:
    as many per free slot as it tried per recipient it claimed), so a worker among several
    does not spend a round trip per slot's worth of others' recipients; what it claims
    beyond its free slots waits here for a slot (a send's time at most), each sent as one frees.

    Runs in the caller's thread, where Ctrl-C lands: the slots and threads are
    `textflow._many._threads`' (no lock an interrupt could leave held)."""
    slots = Slots(run.options.concurrency)
    crew = Crew(run.options.concurrency, partial(_escaped, run))
    items = enumerate(recipients)
    spread = 1.0  # recipients to ask for per free slot (`Run.ahead`)
    try:
        exhausted = False
        while not exhausted and not run.stopped():
            slots.take()
            free = 1
            while free < run.batch and slots.take_free():
                free += 1
            want = min(run.batch, max(free, math.ceil(free * spread)))
            started = 0
            try:
                jobs: list[Prepared] = []
                exhausted = True
                for index, item in items:
                    job = run.admit(index, item)
                    if job is not None:
                        jobs.append(job)
                    if len(jobs) == want or run.stopped():
                        exhausted = False
                        break
                claimed = run.claim_all(jobs) if jobs and not run.stopped() else []
                spread = run.ahead(spread, len(jobs), len(claimed))
                handed = 0  # claims sent, or given back by _start
                try:
                    for job in claimed:
                        if started == free:  # claimed ahead: wait for a send to end
                            slots.take()
                            free += 1
                        handed += 1
                        if not _start(client, job, run, crew, slots, sleep):
                            break
                        started += 1
                finally:  # claims of a batch that will not be sent are given back
                    for unsent in claimed[handed:]:
                        run.release(unsent)
            finally:
                for _ in range(free - started):
                    slots.release()
    except KeyboardInterrupt as exc:
        run.interrupted = exc
    except Exception as exc:  # from the input, the journal or a recipient we cannot read
        run.fail(exc)
    finally:
        while True:  # sends in flight finish and are recorded
            try:
                crew.finish()
                break
            except KeyboardInterrupt as exc:  # the first Ctrl-C: stop, still waiting
                if run.interrupted is not None:
                    raise  # a second one: stop waiting
                run.interrupted = exc


def _start(
    client: Sender,
    job: Prepared,
    run: Run,
    crew: Crew,
    slots: Slots,
    sleep: Callable[[float], None],
) -> bool:
    """Wait for the rate limit's turn, then send in a sending thread (its slot is the
    send's now); False (the claim given back) if the run stopped meanwhile."""
    permit = None
    try:
        while True:  # a permit, or (others hold them all) ask again later
            permit, wait = run.turn()
            if wait:
                sleep(wait)
            if permit is not None or run.stopped():
                break
    except BaseException:
        run.release(job, permit)
        raise
    if run.stopped():
        run.release(job, permit)
        return False
    # in a copy of the caller's context, as the async driver's tasks are: a span or
    # request id the caller set is what each send sees
    crew.hand(partial(_send, client, job, permit, run, slots.release))
    return True


def _send(
    client: Sender, job: Prepared, permit: object, run: Run, release: Callable[[], None]
) -> None:
    try:
        if run.claim_stale(job) and not run.still_claimed(job, permit):
            return  # another worker took it while this one stalled: not sent twice
        try:
            result = client.send_sms(job.phone_number, job.text)
        except Exception as exc:
            run.answered(permit)
            run.failed(job, exc)
        else:
            run.answered(permit)
            run.sent(job, result)
    except Exception as exc:  # the journal or a callback failed: stop, and show it
        run.fail(exc)
    finally:
        release()


def _escaped(run: Run, exc: BaseException) -> None:
    """What a send let out that is not an `Exception` (a KeyboardInterrupt or SystemExit
    some code raised in the sending thread): the run stops, and raises it."""
    if isinstance(exc, KeyboardInterrupt) and run.interrupted is None:
        run.interrupted = exc
    else:
        run.fail(exc)
