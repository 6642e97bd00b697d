"""The grammar of ``textflow campaign``: ``campaign status JOURNAL [--total N] [--json]``.

What it runs is `textflow._cli.campaign`.
"""

from __future__ import annotations

import argparse


def campaign_arguments(command: argparse.ArgumentParser) -> None:
    """The ``campaign`` grammar: ``campaign status JOURNAL [--total N]``."""
    actions = command.add_subparsers(title="actions", metavar="ACTION", dest="action")
    actions.required = True
    status = actions.add_parser(
        "status",
        help="totals by status, pace and time left of a campaign's journal",
        description="Print the totals by status of a send-many campaign (sent, maybe sent, "
        "refused, being sent), its pace over the last minute and, with --total, the time "
        "left. Reads the journal only; sends nothing.",
    )
    status.add_argument(
        "journal",
        metavar="JOURNAL",
        help="a journal file, or redis://...?campaign=NAME or postgresql://...?campaign=NAME",
    )
    status.add_argument("--total", type=int, metavar="N", help="recipients in the campaign")
    status.add_argument(  # also after the journal, as users type it
        "--json", action="store_true", default=argparse.SUPPRESS, help="one JSON object on stdout"
    )
