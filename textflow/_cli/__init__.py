"""The ``textflow`` command; its entry point is ``textflow._cli:main`` (from `command_line`).

``command_line`` runs a command line (``main``) and says what each exit status means;
``exit_status`` the statuses; ``parser`` the grammar's frame and global
options, ``api_arguments`` the API commands' arguments (one per operation of
the table that has a command), ``command_arguments`` those of ``send-many`` and
``sandbox``, ``argument_types`` the value types; ``api_commands`` the commands
that call the API, ``send_many``, ``sandbox`` and ``demo`` the others
(``send_many`` reads its file with ``recipient_file`` and shows progress with
``send_many_progress``);
``inputs`` how commands read what the user gives (numbers, stdin, number
files), ``output`` how text from servers is made safe to print, ``failure``
what a failure prints and its exit status.
"""

from textflow._cli.command_line import main

__all__ = ["main"]
