"""Printing what servers send us: one line, no terminal control characters."""

from __future__ import annotations


def printable(text: str) -> str:
    """``text`` safe to print as one line: control characters shown as escapes.

    A message or an SMS comes from a server (or, in the sandbox, from whoever
    sends to it); escape sequences in it must not move the cursor, recolour the
    terminal or start a new line.

    Args:
        text: Text received from a server.

    Returns:
        The text with newlines, tabs, ESC and other non-printable characters
        written as ``\\n``, ``\\t``, ``\\x1b``...

    Examples:
        >>> printable("two\\nlines \\x1b[31mred")
        'two\\\\nlines \\\\x1b[31mred'
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
