"""The guard tests' fixtures; they live in guard_support.py beside the helpers they use."""

from guard_support import anyio_backend, guarded, redis_port

__all__ = ["anyio_backend", "guarded", "redis_port"]
