"""The SDK's HTTP layer: what it adds over httpx and httpcore, and why.

Nothing here is imported by ``import textflow`` except ``deadline``, ``sent`` and ``body``
(no httpcore): the transports load on the first client, ``aiohttp_client`` on
the first ``textflow.DefaultAioHttpClient`` lookup. A direct send imports neither
httpcore nor h11 (~11 ms of a first send, ~50 ms with trio installed, which httpcore
imports): httpcore loads only for an ``https://`` proxy's tunnel or SOCKS, and when a
test double (respx) patched its connection.

Pieces, and what each adds over httpx and httpcore:

* ``transport`` -- ``TextFlowTransport`` / ``AsyncTextFlowTransport``, the httpx
  transports of clients the SDK builds itself: fork safety (a forked child lets go
  of its copies of the parent's sockets and opens its own), one event loop at a
  time, proxies from the environment.
* ``pools`` -- shards of one connection each behind a gate, driven without
  httpcore's pool, whose per-request work is quadratic in its connections:
  https://github.com/encode/httpcore/issues/1035. Delete when that is fixed. The
  shards themselves: ``async_shard``, and ``sync_shard`` generated from it.
* ``gate`` -- the async transport's gate: the requests beyond the connections wait in
  order of arrival, a slot given back goes straight to the first, and the pool
  timeout is kept by the loop's one deadline timer (``anyio.Semaphore`` woke a waiter
  through an event to take the slot again, and cutting its wait needed a cancel scope
  per wait: 7-10 % more function calls per send at concurrency 500 than at 100).
  ``sync_gate`` -- the sync transport's: slots as tokens of a C queue, taken and given
  back in one call each (``threading.Semaphore`` runs Python code under its lock, and
  an interrupt landing as it lets the lock go left every later call hanging).
* ``connection`` / ``h1`` -- the SDK's own HTTP/1.1 connection, which a shard uses for a
  direct request, for a plain-http one forwarded to a plain-http proxy, and for one
  through a plain-http proxy's CONNECT tunnel, in place of httpcore's ``HTTPConnection``
  (an ``https://`` proxy's tunnels and SOCKS keep httpcore's): ``h1`` is a strict
  sans-I/O codec (a request head in one join and one check; an answer's head in a few
  regular expressions, never laxer than h11, tested against it), ``connection`` drives
  it over the streams below and hands up an ``httpx.Response``. httpcore's connection
  with h11 (locks, state objects, per-header validation, exception mapping) was half the
  function calls of a send. It is kept for as long as those costs are httpcore's and
  h11's by design; a test double that patches httpcore's connection (respx) still gets
  every request (``transport``).
  ``async_connection`` holds ``AsyncConnection``, written by hand; ``sync_connection``
  (``SyncConnection``) is generated from it by scripts/unasync.py.
* ``async_io`` / ``sync_io`` -- where the generated sync twins (``sync_connection``,
  ``sync_shard``) differ from their async sources, behind the same names: the deadline
  (the async client's cancel scope; ``DEADLINE``, checked before a request counts as
  written) and shielded closes.
* ``tunnel`` -- the CONNECT request to a plain-http proxy and the reading of its answer
  (the exchange is the connection's, on its own stream), before TLS with the API over
  the same stream: httpcore's tunnel put ``trio.SSLStream`` inside, whose
  read-ahead buffer hid an unasked answer, and counted a proxy slow to answer CONNECT as
  "may have been sent".
* ``loops`` -- which loop a call runs in, and a hook that lets a loop's
  connections go as it ends (``asyncio.run`` per send keeps nothing).
* ``net`` -- what the SDK's own streams share without httpcore: their exceptions (named
  as httpcore's, mapped to httpx's by ``convert``), their interface, the list of
  streams opened, the socket-readable check.
* ``sync_stream`` -- the sync stream of the SDK's own sync connection: a socket, every
  name lookup (in a thread of its own: ``getaddrinfo`` cannot be cut), connect, read,
  write and handshake cut at the call's deadline; TLS over it in ``sync_tls``.
* ``streams`` / ``backends`` -- httpcore network streams (an ``https://`` proxy's
  tunnel, SOCKS) that keep a sync call's overall deadline (httpcore times each read on
  its own: a server trickling a byte a second holds a call forever), send a small
  request in one write, give up a reused connection closed while idle before writing
  to it, and raise httpcore's exceptions to its connection; the backends open the SDK's
  own streams too (``connect_raw``), and import httpcore only for its connections.
* ``framing`` -- whether an answer on an httpcore connection (an ``https://`` proxy's
  tunnel, SOCKS) ended where ``h1`` says it ends, so that a connection with bytes past
  its answer is never reused (httpcore would read them as the next answer).
* ``asyncio_stream`` -- streams straight on asyncio's transports: httpcore's
  ``AnyIOBackend`` opens a cancel scope per read and write (a sixth of the async
  client's CPU in a fan-out of 100).
* ``trio_stream`` -- under trio, a plain connection on a socket of the SDK's own: a read
  or write tried first, waiting only if it would block (a read under the loop's one
  deadline timer); httpcore's trio stream opened a cancel scope and two
  exception-mapping context managers per read and write. Its waits (and ``trio_tls``'s
  handshake) also keep ``deadline.DEADLINE``: under trio a call that only the SDK's own
  connection carries has no cancel scope (trio's costs ~4 µs a call).
* ``memory_tls`` -- TLS done by the SDK over its own sockets (``ssl.SSLObject`` on
  memory buffers), which ``sync_tls`` (the sync stream's waits) and ``trio_tls`` (trio's)
  drive: ``trio.SSLStream`` reads ahead into a buffer no public name shows, so an unasked
  answer right behind the last one looked like an idle, clean connection;
  ``SSLContext.wrap_socket`` detaches the plain socket in Python code (an interrupt there
  left two socket objects on one descriptor), and OpenSSL's own writes raise SIGPIPE.
* ``convert`` -- the SDK's streams' exceptions as httpx's, and httpcore's requests,
  exceptions (once httpcore is loaded) and bodies; an async body
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
