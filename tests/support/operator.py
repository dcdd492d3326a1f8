"""The operator, as a person at the console would act: through `signbridge` itself."""

from __future__ import annotations

import contextlib
import io
import os

from signbridge_tools import cli


def console(*argv: str, table: str | None = None) -> tuple[int, str]:
    """Run one `signbridge` command against the table the code under test uses; (exit status, output)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main([*argv, "--table", table or os.environ["TABLE_NAME"]])
    return code, out.getvalue()


def resolve(order_id: str, destination: str, *, delivered: bool, event: str | None = None) -> str:
    """`signbridge order resolve`: the destination has it (--delivered) or has it not (--resend)."""
    flags = ["--delivered"] if delivered else ["--resend"]
    if event is not None:
        flags += ["--event", event]
    code, out = console("order", "resolve", order_id, destination, *flags)
    assert code == 0, out
    return out


def retry(order_id: str, *more: str) -> str:
    code, out = console("order", "retry", order_id, *more)
    assert code == 0, out
    return out
