"""Shared base for the provider fakes.

A `FakeServer` is a real HTTP/1.1 server on loopback (ThreadingHTTPServer, port 0 = any free port)
that records every API request, keeps the orders it created, and can be told to misbehave through
a FIFO fault script (in-process or over HTTP under `/_fake/`), so retry, timeout and
"accepted but we never heard" paths can be exercised against a real socket.

Subclasses declare `routes` and `authenticate()`; the base does routing, auth, Content-Type/JSON
checks, fault handling and bookkeeping. Everything the handler threads touch is guarded by one lock.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("signbridge_tools.fakes")

CONTROL_PREFIX = "/_fake/"
# "accept": with "status" or "hang", the request is acted on first (the order is created), then the
# fault's answer is given (a gateway's 502 after the application acted) or the answer comes too late.
FAULT_KEYS = frozenset({"status", "headers", "body", "hang", "drop", "accept_then_drop", "accept", "method", "path"})
# What random mode (fail_rate) picks from: the failures a real provider plausibly produces.
RANDOM_FAULTS: tuple[dict[str, Any], ...] = (
    {"status": 429, "headers": {"Retry-After": "1"}},
    {"status": 500},
    {"status": 503},
    {"accept_then_drop": True},
    {"status": 502, "accept": True},
)
# Methods whose requests carry a JSON body; a GET or DELETE has none to check.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    raw: bytes
    json: Any = None  # parsed body; None when absent or not JSON


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-serialisable; None means an empty body
    headers: dict[str, str] = field(default_factory=dict)
    # Hooks run outside the lock: before the answer is written / after it was written (or dropped).
    before_send: list[Callable[[], None]] = field(default_factory=list)
    after_send: list[Callable[[], None]] = field(default_factory=list)

    def encode(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()


Route = tuple[str, "re.Pattern[str]", Callable[[Request, "re.Match[str]"], Response]]


# --------------------------------------------------------------------------- validation
# A schema is a dict of field name -> spec; a name ending in "?" is optional (null allowed).
# A spec is a check function (value -> problem text or None), a nested schema dict, or a
# one-element list [spec] meaning "array of spec". Problems come back as (dotted.path, text)
# so each fake can phrase them its own way (Laravel dict vs Onward list).

Check = Callable[[Any], "str | None"]
INVALID = "is invalid"  # Laravel words this one differently ("The selected x is invalid.")


def validate(value: dict[str, Any], schema: dict[str, Any], prefix: str = "", *, partial: bool = False):
    problems: list[tuple[str, str]] = []
    for key, spec in schema.items():
        name = key.removesuffix("?")
        path = f"{prefix}{name}"
        item = value.get(name)
        if item is None or (not key.endswith("?") and (item == "" or item == [])):
            # Laravel's `required` also fails on "" and []; optional fields may be null/absent.
            if not key.endswith("?") and not partial:
                problems.append((path, "is required"))
            continue
        problems += check(item, spec, path)
    return problems


def check(value: Any, spec: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(spec, dict):
        return validate(value, spec, path + ".") if isinstance(value, dict) else [(path, "must be an object")]
    if isinstance(spec, list):
        if not isinstance(value, list):
            return [(path, "must be an array")]
        return [p for i, v in enumerate(value) for p in check(v, spec[0], f"{path}.{i}")]
    problem = spec(value)
    return [(path, problem)] if problem else []


def is_str(v: Any) -> str | None:
    return None if isinstance(v, str) else "must be a string"


def is_int(v: Any) -> str | None:
    return None if isinstance(v, int) and not isinstance(v, bool) else "must be an integer"


def is_number(v: Any) -> str | None:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    return None if ok else "must be a number"


def is_bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else "must be true or false"


def is_object(v: Any) -> str | None:
    return None if isinstance(v, dict) else "must be an object"


def is_str_or_number(v: Any) -> str | None:
    return None if is_str(v) is None or is_number(v) is None else "must be a string or a number"


def all_of(*checks: Check) -> Check:
    def run(v: Any) -> str | None:
        return next((p for c in checks if (p := c(v))), None)

    return run


def at_least(n: float) -> Check:
    return lambda v: None if v >= n else f"must be at least {n}"


def one_of(*choices: str) -> Check:
    return lambda v: None if v in choices else f"must be one of {', '.join(choices)}"


def matches(pattern: str, problem: str) -> Check:
    rx = re.compile(pattern)
    return lambda v: None if isinstance(v, str) and rx.fullmatch(v) else problem


def date_format(fmt: str, problem: str) -> Check:
    def run(v: Any) -> str | None:
        try:
            datetime.strptime(v, fmt)  # naive is fine: only the shape matters
        except (TypeError, ValueError):
            return problem
        return None

    return run


def iso8601(v: Any) -> str | None:
    try:
        datetime.fromisoformat(v)  # 3.11+ accepts "Z" and offsets
    except (TypeError, ValueError):
        return "must be an ISO 8601 date-time"
    return None


def laravel_errors(problems: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Laravel's 422 `errors` map; top-level names get spaces ("external id") like Laravel's labels."""
    errors: dict[str, list[str]] = {}
    for path, problem in problems:
        label = path if "." in path else path.replace("_", " ")
        text = f"The selected {label} is invalid." if problem == INVALID else f"The {label} field {problem}."
        errors.setdefault(path, []).append(text)
    return errors


def normalise_fault(fault: Any) -> dict[str, Any]:
    """Check one fault-script entry; raises ValueError so the control endpoint can answer 400."""
    if not isinstance(fault, dict):
        raise ValueError(f"a fault must be an object, got {fault!r}")
    if unknown := set(fault) - FAULT_KEYS:
        raise ValueError(f"unknown fault keys {sorted(unknown)}; allowed: {sorted(FAULT_KEYS)}")
    if not {"status", "hang", "drop", "accept_then_drop"} & set(fault):
        raise ValueError("a fault needs one of status, hang, drop, accept_then_drop")
    if "status" in fault and not (isinstance(fault["status"], int) and 200 <= fault["status"] <= 599):
        raise ValueError("fault status must be an int HTTP status")
    if "hang" in fault and (is_number(fault["hang"]) or fault["hang"] < 0):
        raise ValueError("fault hang must be a number of seconds >= 0")
    if not isinstance(fault.get("headers", {}), dict):
        raise ValueError("fault headers must be an object")
    return copy.deepcopy(fault)


# --------------------------------------------------------------------------- HTTP plumbing
class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for hung or keep-alive handler threads
    fake: FakeServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs; every answer has Content-Length
    disable_nagle_algorithm = True  # headers and body go out in two writes; avoid the 40 ms ACK stall
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, add=False)

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def dispatch(self) -> None:
        self.server.fake._serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = dispatch


# --------------------------------------------------------------------------- the base fake
class FakeServer:
    """Base class; see module docstring. Subclasses set `name`, `routes` and `authenticate`."""

    name = "fake"
    unauthenticated_body: ClassVar[Any] = {"message": "Unauthenticated."}
    # What stamps each request's "time" (a test that moves its own clock sets it).
    clock: Callable[[], float] = staticmethod(time.time)

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, fail_rate: float = 0.0, seed: int | None = None
    ) -> None:
        self.host, self._port = host, port
        self.routes: list[Route] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)  # notified when requests/orders/webhooks change
        self._stopping = threading.Event()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._inflight = 0  # API requests being handled right now
        self._requests: list[dict[str, Any]] = []
        self._created: list[dict[str, Any]] = []
        self._faults: list[dict[str, Any]] = []
        self.fail_rate, self.seed = 0.0, seed
        self._rng = random.Random(seed)  # noqa: S311 - reproducible chaos, not crypto
        self._set_fail_rate(fail_rate)

    # ---- lifecycle
    def start(self) -> FakeServer:
        """Bind and serve in a background thread; returns once the socket is listening."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _HTTPServer((self.host, self._port), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            # A short poll keeps stop() fast (shutdown waits for the loop to wake up); the cost is negligible.
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"fake-{self.name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a "hang" fault
        self._server.shutdown()
        self._server.server_close()
        # Let in-flight requests settle (hung ones wake and drop) so their records are final.
        self.wait_for(lambda: self._inflight == 0, timeout=2.0)
        with self._lock:
            conns, self._connections = list(self._connections), set()
        for conn in conns:  # unblock keep-alive handler threads waiting for another request
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self.name} fake is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---- inspection
    @property
    def requests(self) -> list[dict[str, Any]]:
        """API requests (not /_fake/ ones), oldest first, as deep copies."""
        with self._lock:
            return copy.deepcopy(self._requests)

    @property
    def orders(self) -> dict[str, dict[str, Any]]:
        """Created orders keyed by their external id / shop_order_id (latest one wins on duplicates)."""
        with self._lock:
            return copy.deepcopy({o["key"]: o for o in self._created})

    @property
    def all_orders(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._created)

    def created_count(self, key: str) -> int:
        with self._lock:
            return sum(o["key"] == key for o in self._created)

    def counts(self) -> dict[str, int]:
        with self._lock:
            out: dict[str, int] = {}
            for o in self._created:
                out[o["key"]] = out.get(o["key"], 0) + 1
            return out

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until predicate() (evaluated under the lock) is true; e.g. a hung request completed."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    # ---- faults and config
    def add_faults(self, *faults: dict[str, Any]) -> None:
        """Append to the FIFO fault script. Each API request takes the first fault whose optional
        `method` (exact) / `path` (prefix) filters match it."""
        checked = [normalise_fault(f) for f in faults]
        with self._lock:
            self._faults.extend(checked)

    add_fault = add_faults

    @property
    def pending_faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._faults)

    def configure(self, **options: Any) -> dict[str, Any]:
        """Set `fail_rate` (0..1), `seed` (re-seeds the RNG) or provider options; returns config()."""
        with self._lock:
            for key, value in options.items():
                if key == "fail_rate":
                    self._set_fail_rate(value)
                elif key == "seed":
                    self.seed = value
                    self._rng = random.Random(value)  # noqa: S311
                elif not self._configure_option(key, value):
                    raise ValueError(f"unknown config option {key!r}")
            return self.config()

    def _set_fail_rate(self, value: Any) -> None:
        if is_number(value) or not 0 <= value <= 1:
            raise ValueError("fail_rate must be a number between 0 and 1")
        self.fail_rate = float(value)

    def config(self) -> dict[str, Any]:
        with self._lock:
            return {"fail_rate": self.fail_rate, "seed": self.seed, **self._config_extra()}

    def clear_faults(self) -> None:
        """Forget the fault script and random mode; keep what was received and created."""
        with self._lock:
            self._faults.clear()
            self.fail_rate = 0.0

    def reset(self) -> None:
        """Forget requests, orders, id sequences, the fault script and random mode (fail_rate -> 0).
        Credentials, known products and webhook settings are kept."""
        with self._lock:
            self._requests.clear()
            self._created.clear()
            self._faults.clear()
            self.fail_rate = 0.0
            self._rng = random.Random(self.seed)  # noqa: S311
            self._reset_extra()
            self._changed.notify_all()

    # ---- subclass hooks
    def authenticate(self, req: Request) -> bool:
        return True

    def error_body(self, message: str) -> Any:
        return {"message": message}

    def fault_body(self, status: int) -> Any:
        return None if status == 409 else self.error_body(f"Injected fault: HTTP {status}")

    def _configure_option(self, key: str, value: Any) -> bool:
        return False

    def _config_extra(self) -> dict[str, Any]:
        return {}

    def _reset_extra(self) -> None:
        pass

    def _extra_control(self, req: Request) -> Response | None:
        return None

    # ---- helpers for subclasses (call with the lock held)
    def _add_order(self, key: str, order_id: Any, request: Any, response: Any, **extra: Any) -> dict[str, Any]:
        order = {
            "key": key,
            "id": order_id,
            "request": copy.deepcopy(request),
            "response": copy.deepcopy(response),
            "created_at": self.clock(),
            **extra,
        }
        self._created.append(order)
        return order

    def _find_order(self, key: str) -> dict[str, Any] | None:
        return next((o for o in reversed(self._created) if o["key"] == key), None)

    # ---- request handling
    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def _serve(self, h: _Handler) -> None:
        try:
            split = urlsplit(h.path)
            raw = h.read_body()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            req = Request(
                h.command, split.path, parse_qs(split.query), {k.lower(): v for k, v in h.headers.items()}, raw, parsed
            )
            if req.path.startswith(CONTROL_PREFIX):
                self._send(h, self._control(req))
            else:
                self._serve_api(h, req)
        except Exception:
            log.exception("%s fake failed handling %s %s", self.name, h.command, h.path)
            self._send(h, Response(500, {"message": "fake server error"}))

    def _serve_api(self, h: _Handler, req: Request) -> None:
        with self._lock:
            self._inflight += 1
        try:
            self._handle_api(h, req)
        finally:
            with self._lock:
                self._inflight -= 1
                self._changed.notify_all()

    def _handle_api(self, h: _Handler, req: Request) -> None:
        with self._lock:
            record: dict[str, Any] = {
                "seq": len(self._requests) + 1,
                "time": self.clock(),
                "method": req.method,
                "path": req.path,
                "query": req.query,
                "headers": req.headers,
                "body": req.json,
                "raw_body": req.raw.decode("utf-8", "replace"),
                "fault": None,
                "response": None,
                "delivered": False,
                "outcome": "pending",
            }
            self._requests.append(record)
            fault = record["fault"] = self._take_fault(req)
            self._changed.notify_all()
        fault = fault or {}

        accept = bool(fault.get("accept"))
        # "drop" closes before processing; a hang interrupted by stop() gives up the same way.
        if fault.get("drop") or (not accept and "hang" in fault and self._stopping.wait(fault["hang"])):
            self._finish(record, None, "dropped")
            self._drop(h)
            return
        if accept:
            with self._lock:
                acted = self._route(req)
            for hook in acted.before_send + acted.after_send:
                self._run_hook(hook)
            if "hang" in fault and self._stopping.wait(fault["hang"]):
                self._finish(record, None, "accepted_then_dropped")
                self._drop(h)
                return
            resp = acted
            if "status" in fault:
                body = fault["body"] if "body" in fault else self.fault_body(fault["status"])
                resp = Response(fault["status"], body, {str(k): str(v) for k, v in fault.get("headers", {}).items()})
            self._finish(record, resp, "accepted_then_answered")
            self._send(h, resp)
            return
        if "status" in fault:
            body = fault["body"] if "body" in fault else self.fault_body(fault["status"])
            headers = {str(k): str(v) for k, v in fault.get("headers", {}).items()}
            resp = Response(fault["status"], body, headers)
        else:
            with self._lock:
                resp = self._route(req)
        for hook in resp.before_send:
            self._run_hook(hook)
        # Record before writing so a client that just got its answer sees it in `requests`.
        if fault.get("accept_then_drop"):
            self._finish(record, resp, "accepted_then_dropped")
            self._drop(h)
        else:
            self._finish(record, resp, "answered")
            self._send(h, resp)
        for hook in resp.after_send:
            self._run_hook(hook)

    def _take_fault(self, req: Request) -> dict[str, Any] | None:
        for i, f in enumerate(self._faults):
            if f.get("method", req.method).upper() == req.method and req.path.startswith(f.get("path", "")):
                return self._faults.pop(i)
        if self.fail_rate and self._rng.random() < self.fail_rate:
            return {**copy.deepcopy(self._rng.choice(RANDOM_FAULTS)), "random": True}
        return None

    def _route(self, req: Request) -> Response:
        allowed = []
        for method, pattern, handler in self.routes:
            if m := pattern.fullmatch(req.path):
                if method == req.method:
                    if not self.authenticate(req):
                        return Response(401, copy.deepcopy(self.unauthenticated_body))
                    if req.method in BODY_METHODS and (problem := self._json_problem(req)):
                        return problem
                    return handler(req, m)
                allowed.append(method)
        if allowed:
            return Response(
                405,
                self.error_body(f"The {req.method} method is not supported for this route."),
                {"Allow": ", ".join(allowed)},
            )
        return Response(404, self.error_body("Not Found"))

    def _json_problem(self, req: Request) -> Response | None:
        media_type = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return Response(415, self.error_body("Content-Type must be application/json"))
        if not isinstance(req.json, dict):
            return Response(400, self.error_body("The request body must be a JSON object"))
        return None

    def _finish(self, record: dict[str, Any], resp: Response | None, outcome: str) -> None:
        with self._lock:
            if resp is not None:
                record["response"] = {
                    "status": resp.status,
                    "headers": dict(resp.headers),
                    "body": copy.deepcopy(resp.body),
                }
            record["delivered"] = outcome == "answered"
            record["outcome"] = outcome
            self._changed.notify_all()

    def _run_hook(self, hook: Callable[[], None]) -> None:
        try:
            hook()
        except Exception:
            log.exception("%s fake hook failed", self.name)

    @staticmethod
    def _send(h: _Handler, resp: Response) -> None:
        data = resp.encode()
        try:
            h.send_response(resp.status)
            if resp.body is not None:
                h.send_header("Content-Type", "application/json")
            for k, v in resp.headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            h.close_connection = True  # the client went away; nothing to answer to

    @staticmethod
    def _drop(h: _Handler) -> None:
        """Close the connection without a single byte of response."""
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_RDWR)

    # ---- /_fake/ control endpoints (no auth: they exist for tests and demos only)
    def _control(self, req: Request) -> Response:
        route = (req.method, req.path.rstrip("/"))
        body = req.json
        try:
            if route == ("GET", "/_fake/requests"):
                return Response(200, {"requests": self.requests})
            if route == ("GET", "/_fake/orders"):
                orders = {"orders": self.orders, "created": self.all_orders, "counts": self.counts()}
                return Response(200, orders)
            if route == ("GET", "/_fake/faults"):
                return Response(200, {"faults": self.pending_faults})
            if route == ("POST", "/_fake/faults"):
                faults = body.get("faults") if isinstance(body, dict) else body
                if not isinstance(faults, list):
                    raise ValueError('send a JSON list of faults or {"faults": [...]}')
                self.add_faults(*faults)
                return Response(200, {"faults": self.pending_faults})
            if route == ("GET", "/_fake/config"):
                return Response(200, {"config": self.config()})
            if route == ("POST", "/_fake/config"):
                if not isinstance(body, dict):
                    raise ValueError("send a JSON object of config options")
                return Response(200, {"config": self.configure(**body)})
            if route == ("POST", "/_fake/reset"):
                self.reset()
                return Response(200, {"ok": True})
            if (extra := self._extra_control(req)) is not None:
                return extra
        except ValueError as exc:
            return Response(400, {"message": str(exc)})
        return Response(404, {"message": f"unknown control endpoint {req.method} {req.path}"})
