"""Benchmarks of the textflow SDK against the latency limit, its floor and its rivals.

Run them with ``nox -s bench`` (``-- --quick`` for a short run): the session makes
its own venv with the contenders installed (aiohttp, httpx-aiohttp, trio,
textflowsms 0.1.0 from PyPI) and runs ``python -m benchmarks``. See README.md.

Modules: ``server`` (the local HTTP/1.1 server, in its own process), ``contenders``
(the clients), ``scenarios`` (what is measured), ``report`` (the tables),
``runner`` (the command line).
"""
