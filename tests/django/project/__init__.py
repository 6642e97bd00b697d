"""A small real Django project for the tests of ``textflow.contrib.django`` (SQLite)."""
