"""The guard tests' fixtures; they live in guard_support.py beside the helpers they use;
importing them here registers them (tests import helpers from the support module)."""

from tests.guard.guard_support import anyio_backend, guarded, redis_port

__all__ = ["anyio_backend", "guarded", "redis_port"]
