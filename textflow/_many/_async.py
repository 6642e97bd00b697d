"""``AsyncTextFlowClient.send_many``: one dispatching task, ``concurrency`` sending tasks."""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, Awaitable, Iterable
from typing import TYPE_CHECKING, Callable, Optional, Union

import anyio

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
from textflow._many._sender import AsyncSender

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

Recipients = Union[Iterable[Recipient], AsyncIterable[Recipient]]


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
        slots = anyio.Semaphore(options.concurrency)
        async with anyio.create_task_group() as group:
            try:
                if isinstance(recipients, AsyncIterable):
                    index = 0
                    async for item in recipients:
                        if not await _offer(client, run, group, slots, _sleep, index, item):
                            break
                        index += 1
                else:
                    for index, item in enumerate(recipients):
                        if not await _offer(client, run, group, slots, _sleep, index, item):
                            break
            except Exception as exc:  # from the input, the journal or a recipient we cannot read
                run.fail(exc)
    finally:
        try:
            if limiter is not None:
                limiter.close()
        finally:
            if owned and store is not None:
                store.close()
    return run.result()


async def _offer(
    client: AsyncSender,
    run: Run,
    group: TaskGroup,
    slots: anyio.Semaphore,
    sleep: Callable[[float], Awaitable[None]],
    index: int,
    item: object,
) -> bool:
    """Start sending to one recipient (or record why not); False once the run stops."""
    if run.stopped():
        return False
    job = run.admit(index, item)
    if job is None:
        return True
    await slots.acquire()
    started = False
    try:
        if run.stopped():
            return False
        if not run.claim(job):
            return True
        try:
            wait = run.delay()
            if wait:
                await sleep(wait)
        except BaseException:
            run.release(job)
            raise
        if run.stopped():
            run.release(job)
            return False
        group.start_soon(_send, client, job, run, slots)
        started = True
    finally:
        if not started:
            slots.release()
    return True


async def _send(client: AsyncSender, job: Prepared, run: Run, slots: anyio.Semaphore) -> None:
    try:
        try:
            result = await client.send_sms(job.phone_number, job.text)
        except Exception as exc:
            run.failed(job, exc)
        except BaseException as exc:  # cancelled mid-send: it may have gone out
            run.failed(job, exc)
            raise
        else:
            run.sent(job, result)
    except Exception as exc:  # the journal or a callback failed: stop, and show it
        run.fail(exc)
    finally:
        slots.release()
