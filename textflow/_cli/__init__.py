"""The pieces of the ``textflow`` command; the entry point is :func:`textflow.cli.main`."""
