"""Sending to many people: ``send_many``, its outcomes, rate limit and journal.

These modules use a client through a protocol (`_sender`: its ``send_sms``),
never the client classes; the clients only delegate to them
(``client.send_many`` is a few lines), never the other way round.
"""
