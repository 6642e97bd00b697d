"""Campaigns on Celery: a chunk task that is safe to re-deliver, a splitter, a status.

Install with ``pip install 'textflowsms[celery]'``. Each task sends one chunk
of a campaign through `send_many` on a shared journal (``redis://`` or
``postgresql://`` with ``?campaign=NAME``), so a task that Celery delivers
twice (``acks_late`` after a worker died, a retry, a duplicate) never sends
twice: recipients already sent are skipped, recipients a dead worker held
become ``maybe_sent`` when its lease runs out, and are not sent again. With
``max_per_second`` and a Redis journal (or ``rate_limit=``) the rate holds
for all workers together.

Examples:
    >>> from celery import Celery
    >>> from textflow.integrations.celery import make_send_chunk_task, enqueue_campaign
    >>> app = Celery("sms", broker="redis://127.0.0.1:6379/1")
    >>> send_chunk = make_send_chunk_task(app)
    >>> enqueue_campaign(send_chunk, ["+11234567890", "+381611231234"], "Open now",
    ...                  journal="redis://127.0.0.1:6379/0?campaign=spring")
"""

from __future__ import annotations

import csv
import itertools
import os
import socket
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from textflow._many._run import pinned_journal
from textflow._many._status import CampaignStatus, campaign_status
from textflow.errors import InputValidationError, JournalError, SendManyStopped

if TYPE_CHECKING:
    from celery import Celery, Task

    from textflow._client import TextFlowClient

__all__ = [
    "CampaignStatus",
    "DEFAULT_CHUNK",
    "campaign_status",
    "enqueue_campaign",
    "make_send_chunk_task",
    "send_chunk",
    "split_campaign",
]

#: Recipients per chunk task by default.
DEFAULT_CHUNK = 500
#: Seconds between retries of a chunk whose journal could not be reached.
RETRY_AFTER = 5.0
Recipient = Union[str, dict[str, Any]]

_clients: dict[int, TextFlowClient] = {}


def _default_client() -> TextFlowClient:
    """One client per worker process (from ``TEXTFLOW_API_KEY`` / ``TEXTFLOW_BASE_URL``)."""
    from textflow._client import TextFlowClient

    pid = os.getpid()
    client = _clients.get(pid)
    if client is None:
        _clients.clear()  # a forked child starts its own
        client = _clients[pid] = TextFlowClient()
    return client


def send_chunk(
    recipients: Sequence[Recipient],
    text: Optional[str],
    *,
    journal: str,
    client: Optional[TextFlowClient] = None,
    **options: Any,
) -> dict[str, Any]:
    """Send one chunk through the shared journal; its totals (what a task returns).

    Args:
        recipients: Phone numbers, or mappings (``text`` is then a ``{field}`` template).
        text: The text, or the template.
        journal: A shared journal's URL (``redis://`` or ``postgresql://``, ``?campaign=``).
        client: The `TextFlowClient`; default one per process, from the environment.
        options: More `send_many` options (``max_per_second``, ``rate_limit``, ...).

    Returns:
        ``{"sent", "refused", "maybe_sent", "skipped", "stopped_by"}``.

    Raises:
        JournalError: The journal cannot be used (the task retries it when it could not
            be reached: nothing is lost).
    """
    if not isinstance(journal, str) or "://" not in journal:
        raise InputValidationError(
            "a campaign across workers needs a shared journal URL "
            "(redis://...?campaign=NAME or postgresql://...?campaign=NAME).",
            argument="journal",
        )
    sender = client or _default_client()
    stopped_by: Optional[str] = None
    try:
        report = sender.send_many(recipients, text, journal=journal, **options)
    except SendManyStopped as stopped:  # e.g. out of credits: a retry would not help
        report = stopped.report
        stopped_by = f"{type(stopped.__cause__).__name__}: {stopped.__cause__}"
    return {
        "sent": report.sent,
        "refused": report.refused,
        "maybe_sent": report.maybe_sent,
        "skipped": report.skipped,
        "stopped_by": stopped_by,
    }


def make_send_chunk_task(
    app: Celery,
    *,
    name: str = "textflow.send_chunk",
    client_factory: Optional[Callable[[], TextFlowClient]] = None,
    max_retries: int = 10,
    **task_options: Any,
) -> Task[Any, Any]:
    """Register the chunk task on ``app``: late acks, re-queued when its worker dies,
    retried while the journal is unreachable.

    Only a journal that cannot be reached (connection refused or lost, a timeout) is
    retried; a journal that answers but can never serve the chunk (its campaign lost
    or wiped, not a textflow journal) fails the task at once with its `JournalError`.

    Args:
        app: Your Celery app.
        name: The task's name.
        client_factory: Makes the worker's `TextFlowClient` (default: from the environment).
        max_retries: Retries while the journal cannot be reached.
        task_options: More options for ``app.task`` (``queue``, ``rate_limit`` is Celery's
            own per-worker one: use ``max_per_second`` in the call instead).

    Examples:
        >>> send_chunk = make_send_chunk_task(app)
        >>> send_chunk.delay(["+11234567890"], "Hi", journal=JOURNAL_URL)
    """
    options: dict[str, Any] = {
        "acks_late": True,  # a chunk is acknowledged when done, so a dead worker's is re-sent
        "reject_on_worker_lost": True,
        "max_retries": max_retries,
        **task_options,
    }

    def send_chunk_task(
        self: Task[Any, Any],
        recipients: Sequence[Recipient],
        text: Optional[str],
        *,
        journal: str,
        **send_options: Any,
    ) -> dict[str, Any]:
        client = client_factory() if client_factory is not None else None
        try:
            return send_chunk(recipients, text, journal=journal, client=client, **send_options)
        except JournalError as exc:
            if not _unreachable(exc):  # lost, wiped, not a journal: no retry can mend it
                raise
            # safe to run again: the journal keeps what this attempt did
            raise self.retry(exc=exc, countdown=RETRY_AFTER) from exc
        finally:
            if client is not None:
                client.close()

    task: Task[Any, Any] = app.task(bind=True, name=name, **options)(send_chunk_task)
    return task


def _unreachable(exc: JournalError) -> bool:
    """Whether the journal failed to answer (a retry may succeed), from ``exc``'s causes.

    A connection refused, reset or timed out is; a journal that answered (lost its
    campaign, is not a textflow journal, refused a statement) is not.
    """
    seen: set[int] = set()
    cause: Optional[BaseException] = exc.__cause__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if _is_transient(cause):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


#: Refusals at connect that pass: the server is starting, stopping or full.
_PASSING = (
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "too many clients",
    "remaining connection slots",
)


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, (ConnectionError, TimeoutError, socket.timeout)):
        return True
    module = type(error).__module__.split(".")[0]
    if module == "redis":
        import redis.exceptions

        if isinstance(
            error, (redis.exceptions.AuthenticationError, redis.exceptions.AuthorizationError)
        ):
            return False  # a wrong password or user: the same on every retry
        return isinstance(error, (redis.ConnectionError, redis.TimeoutError))
    if module == "psycopg":
        import psycopg

        state = getattr(error, "sqlstate", None)
        if isinstance(error, psycopg.OperationalError) and state is None:
            # the connection failed or broke; a server that answered FATAL (no such
            # database or role, a wrong password) says the same on every retry
            text = str(error)
            return "FATAL:" not in text or any(phrase in text for phrase in _PASSING)
        # 08: connection exceptions; 57P01-57P03: the server shut down or is starting;
        # 57014, 55P03: a statement or a lock wait past the journal's timeout (busy)
        return isinstance(state, str) and state.startswith(("08", "57P0", "57014", "55P03"))
    return False


def split_campaign(
    recipients: Union[Iterable[Recipient], str, os.PathLike[str]],
    *,
    chunk_size: int = DEFAULT_CHUNK,
    phone_field: str = "phone_number",
) -> Iterator[list[Recipient]]:
    """The campaign in chunks, read as it goes (a CSV file is never held whole).

    Args:
        recipients: Numbers or mappings, or a CSV file's path (a header row; each row a
            mapping, the number in ``phone_field``).
        chunk_size: Recipients per chunk.
        phone_field: The CSV column with the number.

    Examples:
        >>> [len(c) for c in split_campaign(numbers, chunk_size=500)]
        [500, 500, 120]
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InputValidationError(
            f"chunk_size must be an int >= 1, not {chunk_size!r}.", argument="chunk_size"
        )
    if isinstance(recipients, (str, os.PathLike)):
        yield from _csv_chunks(Path(recipients), chunk_size, phone_field)
        return
    items = iter(recipients)
    while chunk := list(itertools.islice(items, chunk_size)):
        yield chunk


def _csv_chunks(path: Path, chunk_size: int, phone_field: str) -> Iterator[list[Recipient]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            rows = csv.DictReader(file)
            if rows.fieldnames is None or phone_field not in rows.fieldnames:
                raise InputValidationError(
                    f"{path} has no column {phone_field!r} in its header row.",
                    argument="phone_field",
                )
            while chunk := list(itertools.islice(rows, chunk_size)):
                yield [dict(row) for row in chunk]
    except UnicodeDecodeError as exc:  # the file is decoded a block at a time
        raise InputValidationError(
            f"{path} is not UTF-8 ({exc.reason}): save it as UTF-8 and enqueue it again "
            "(the chunks queued already are skipped by the journal).",
            argument="recipients",
        ) from None


def enqueue_campaign(
    task: Task[Any, Any],
    recipients: Union[Iterable[Recipient], str, os.PathLike[str]],
    text: Optional[str],
    *,
    journal: str,
    chunk_size: int = DEFAULT_CHUNK,
    **send_options: Any,
) -> list[Any]:
    """Queue one ``task`` per chunk of the campaign; their ``AsyncResult`` values.

    Queue it once: queueing the same campaign again is safe (the journal skips what
    was sent) but sends the chunks' requests through the queue again. On Redis and
    Postgres the chunks carry the campaign's instance (``&instance=ID``, see
    `textflow.RedisJournal.pinned_url`): a chunk that runs after Redis lost its data
    (restarted without persistence, flushed) or after the campaign's rows were deleted
    stops with a `JournalError` instead of sending its recipients again.

    Examples:
        >>> results = enqueue_campaign(send_chunk, "contacts.csv", "Hi {name}",
        ...                            journal=JOURNAL_URL, max_per_second=20)
    """
    phone_field = send_options.get("phone_field", "phone_number")
    journal = pinned_journal(journal) if isinstance(journal, str) else journal
    return [
        task.apply_async(args=(chunk, text), kwargs={"journal": journal, **send_options})
        for chunk in split_campaign(recipients, chunk_size=chunk_size, phone_field=phone_field)
    ]
