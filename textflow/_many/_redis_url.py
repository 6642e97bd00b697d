"""Redis clients from the URLs users give: a shared journal's, a shared rate limit's.

redis-py reads a URL lazily: a bad port or an unknown option would fail at the first
command, mid-run, as a bare ``ValueError`` or ``TypeError``. Here it fails at once, as
an `InputValidationError` that never shows the password, before anything is sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from textflow.errors import InputValidationError

if TYPE_CHECKING:
    import redis


def redis_client(
    server: str, *, shown: str, argument: str, decode_responses: bool = False
) -> redis.Redis:
    """A client for ``server`` (a URL without textflow's own parameters), checked now.

    ``shown`` is the URL as messages may print it (password masked); ``argument`` the
    name of the argument that gave it.
    """
    import redis

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
