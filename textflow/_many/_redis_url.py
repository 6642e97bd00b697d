"""Redis clients from the URLs users give: a shared journal's, a shared rate limit's.

redis-py reads a URL lazily: a bad port or an unknown option would fail at the first
command, mid-run, as a bare ``ValueError`` or ``TypeError``. Here it fails at once, as
an `InputValidationError` that never shows the password, before anything is sent.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from textflow.errors import InputValidationError

if TYPE_CHECKING:
    import redis

_DATABASE = re.compile("[0-9]*")  # ASCII digits only: str.isdigit() takes "²"


def redis_client(
    server: str, *, shown: str, argument: str, decode_responses: bool = False
) -> redis.Redis:
    """A client for ``server`` (a URL without textflow's own parameters), checked now.

    ``shown`` is the URL as messages may print it (password masked); ``argument`` the
    name of the argument that gave it.
    """
    import redis

    database = urlsplit(server).path.strip("/")
    if server.startswith(("redis://", "rediss://")) and not _DATABASE.fullmatch(database):
        # redis-py reads a path that is not a number as database 0: another campaign's keys
        raise InputValidationError(
            f"The {argument} URL {shown} names the database {database!r}: a Redis database "
            "is a number (redis://host:6379/0), or no path for 0.",
            argument=argument,
        )
    try:
        client = redis.Redis.from_url(
            server,
            decode_responses=decode_responses,
            socket_timeout=10,
            socket_connect_timeout=5,
        )
        pool = client.connection_pool
        pool.connection_class(**pool.connection_kwargs)  # unknown options: not connected
    except (ValueError, TypeError) as exc:
        said = str(exc)
        password = urlsplit(server).password
        if password and password in said:
            said = "an option is not valid"
        raise InputValidationError(
            f"The {argument} URL {shown} is not one redis-py accepts: {said}", argument=argument
        ) from None
    return client
