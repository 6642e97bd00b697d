"""The exit statuses of the ``textflow`` command (see `textflow._cli.command_line.main`)."""

EXIT_OK = 0  # success
EXIT_REFUSED = 1  # the API said no, or verify-code found the code invalid
EXIT_USAGE = 2  # bad usage or bad input, found before anything was sent
EXIT_NO_ANSWER = 3  # no usable answer from the server: the outcome is unknown
EXIT_BUG = 70  # a bug in textflow (EX_SOFTWARE)
EXIT_INTERRUPTED = 130  # Ctrl-C
