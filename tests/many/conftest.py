"""The send_many tests' fixtures live in many_support.py beside the helpers they use;
importing them here registers them (tests import helpers from the support module)."""

from tests.many.many_support import _clean_env, anyio_backend, fake, many

__all__ = ["_clean_env", "anyio_backend", "fake", "many"]
