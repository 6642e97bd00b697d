"""The SDK's HTTP layer: what it adds over httpx and httpcore, and why.

Nothing here is imported by ``import textflow`` except ``deadline``, ``sent`` and ``body``
(no httpcore): the transports load on the first client, ``aiohttp_client`` on
the first ``textflow.DefaultAioHttpClient`` lookup.

Pieces, and what each adds over httpx and httpcore:

* ``transport`` -- ``TextFlowTransport`` / ``AsyncTextFlowTransport``, the httpx
  transports of clients the SDK builds itself: fork safety (a forked child lets go
  of its copies of the parent's sockets and opens its own), one event loop at a
  time, proxies from the environment.
* ``pools`` -- shards of one connection each behind a gate, driven without
  httpcore's pool, whose per-request work is quadratic in its connections:
  https://github.com/encode/httpcore/issues/1035. Delete when that is fixed.
* ``gate`` -- the async transport's gate: the requests beyond the connections wait in
  order of arrival, a slot given back goes straight to the first, and the pool
  timeout is kept by the loop's one deadline timer (``anyio.Semaphore`` woke a waiter
  through an event to take the slot again, and cutting its wait needed a cancel scope
  per wait: 7-10 % more function calls per send at concurrency 500 than at 100).
* ``loops`` -- which loop a call runs in, and a hook that lets a loop's
  connections go as it ends (``asyncio.run`` per send keeps nothing).
* ``streams`` / ``backends`` -- httpcore network streams that keep a sync call's
  overall deadline (httpcore times each read on its own: a server trickling a byte
  a second holds a call forever), send a small request in one write, and give up a
  reused connection closed while idle before writing to it.
* ``framing`` -- where an answer ends on the wire, so that a connection with bytes
  past its answer is never reused (httpcore would read them as the next answer).
* ``asyncio_stream`` -- streams straight on asyncio's transports: httpcore's
  ``AnyIOBackend`` opens a cancel scope per read and write (a sixth of the async
  client's CPU in a fan-out of 100).
* ``convert`` -- httpcore's requests, exceptions and bodies as httpx's; an async body
  closed early ends httpcore's generators at once (neither httpx nor httpcore closes
  the ones it iterates, and trio warns about those left to garbage collection).
* ``deadline`` -- the sync call's deadline.
* ``timers`` -- the async calls' deadlines, one timer per event loop: ``anyio.fail_after``
  per call leaves a cancelled timer in the loop's heap until the loop turns, so a
  loop that never yields (sends over ``httpx.MockTransport``) grew ~200 bytes a send;
  the deadlines are kept in a heap (firing is O(log n) per call cut).
* ``sent`` -- the one decision of "may it have been sent?": every transport here
  (aiohttp's through its tracing signals) reports how far an attempt got, and the
  retry loop asks ``sent`` (no transport decides on its own).
* ``body`` -- an answer read under a size cap and decompressed in bounded steps
  (httpx decompresses each received chunk whole: a gzip bomb's 64 KiB is 64 MiB).
* ``cookies`` -- a cookie jar that skips answers that set no cookie.
* ``aiohttp_client`` -- ``DefaultAioHttpClient`` over httpx-aiohttp, whose 0.2
  maps every connection error to ``ConnectTimeout`` ("not sent"), even after the
  request went out.

Only public names of httpx, httpcore, anyio, trio and asyncio are used
(tests/core/test_core_private_names.py checks it).
"""
