"""The core tests' fixtures; they live in core_support.py beside the helpers they use.

Test modules import helpers from ``core_support``, never from ``conftest``:
several conftest.py files under tests/ would shadow each other as ``conftest``.
"""

from core_support import _clean_env, anyio_backend, api, mock_api, no_backoff, server
from hostile_support import hostile

__all__ = ["_clean_env", "anyio_backend", "api", "hostile", "mock_api", "no_backoff", "server"]
