"""Sending to many people: ``send_many``, its outcomes, rate limit and journal.

These modules use the clients' public methods; the clients only delegate to
them (``client.send_many`` is a few lines), never the other way round.
"""
