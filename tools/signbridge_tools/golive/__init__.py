"""Going live: `signbridge setup`, `connect` and `doctor`, from a deployed stack to a green go /
no-go list. They build on the console's pieces (``signbridge_tools.cli``: where the stack is, its
state-index listings), so the console imports this package when it builds its parser.
"""

from __future__ import annotations

import argparse

from . import connect, doctor, setup


def add_commands(commands: argparse._SubParsersAction, where: argparse.ArgumentParser) -> None:
    for command in (setup, connect, doctor):
        command.add_parser(commands, where)
