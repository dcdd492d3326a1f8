"""Local HTTP fakes of the three order destinations (Sign Customiser, Dropday, Onward).

Each fake is a real loopback HTTP server that enforces the documented request contract, records
what it received, and can inject faults; see server.py for the shared machinery and
`python -m signbridge_tools.fakes --help` for running all three as a demo process.
"""

from .dropday import DEFAULT_ACCOUNT_ID as DROPDAY_DEFAULT_ACCOUNT_ID
from .dropday import DEFAULT_API_KEY as DROPDAY_DEFAULT_API_KEY
from .dropday import DropdayFake
from .onward import DEFAULT_API_KEY as ONWARD_DEFAULT_API_KEY
from .onward import OnwardFake
from .server import RANDOM_FAULTS, FakeServer, Request, Response
from .signcustomiser import DEFAULT_INTEGRATION_ID, SignCustomiserFake, sign_webhook, webhook_payload
from .signcustomiser import DEFAULT_TOKEN as SIGNCUSTOMISER_DEFAULT_TOKEN

__all__ = [
    "DEFAULT_INTEGRATION_ID",
    "DROPDAY_DEFAULT_ACCOUNT_ID",
    "DROPDAY_DEFAULT_API_KEY",
    "ONWARD_DEFAULT_API_KEY",
    "RANDOM_FAULTS",
    "SIGNCUSTOMISER_DEFAULT_TOKEN",
    "DropdayFake",
    "FakeServer",
    "OnwardFake",
    "Request",
    "Response",
    "SignCustomiserFake",
    "sign_webhook",
    "webhook_payload",
]
