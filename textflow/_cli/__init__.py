"""The pieces of the ``textflow`` command; the entry point is `textflow.cli.main`.

``parser`` holds the command line grammar, ``api_commands`` the commands that
call the API, ``inputs`` how they read what the user gives (numbers, stdin,
number files), ``sandbox`` and ``demo`` the two that run the fake, ``output``
how text from servers is made safe to print, ``failure`` what a failure prints
and its exit status. The exit statuses live here.
"""

EXIT_OK = 0  # success
EXIT_REFUSED = 1  # the API said no, or verify-code found the code invalid
EXIT_USAGE = 2  # bad usage or bad input, found before anything was sent
EXIT_NO_ANSWER = 3  # no usable answer from the server: the outcome is unknown
EXIT_BUG = 70  # a bug in textflow (EX_SOFTWARE)
EXIT_INTERRUPTED = 130  # Ctrl-C
