"""The project's AWS emulator: moto's server (pinned in tools/pyproject.toml,
group `tools`), with two things of ours in its process.

Where it sits: every local run of the pipeline (`make demo`, `make replay`,
`make load`, the end-to-end tests) starts it through `harness::emulator`
(`python -m chat_tools.emulator`), on a free loopback port, and talks to it
with the real AWS SDK clients.

1. **moto's Kinesis race fixed** (chat_tools.moto_patch, 1): concurrent
   PutRecords on one shard no longer overwrite each other's records.

2. **Fault injection** (`--faults`), for `make demo FAULTS=1`: answers that
   real services give and that the pipeline must survive, injected at the
   wire, so the real SDK clients and the real retry code meet them. Each is
   written as one JSON line to `--fault-log` when injected, so the demo
   prints it as it happens:
   - Kinesis PutRecords: the 2nd call is refused whole with
     ProvisionedThroughputExceededException (HTTP 400); the 3rd and 4th
     calls accept all but every 7th record, which comes back with a
     per-record ErrorCode (ProvisionedThroughputExceededException, and one
     InternalFailure), as Kinesis reports partial failures (HTTP 200,
     FailedRecordCount > 0; Kinesis API Reference, PutRecords);
   - S3 PutObject: the first object written under events/ is refused with
     HTTP 500 InternalError three times in a row (more than the SDK's three
     attempts), then accepted, so the writer's own retry has to act, as
     Firehose retries S3 delivery (Firehose Developer Guide, "Handle data
     delivery failure", Amazon S3: retries for up to 24 hours).
"""

from __future__ import annotations

import argparse
import io
import json
import signal
import sys
import threading
import time
from typing import Any, Callable, Iterable

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

from chat_tools import moto_patch

# --------------------------------------------------------------- faults --
class FaultLog:
    """Where injected faults are written, one JSON object a line."""

    def __init__(self, path: str | None):
        self.path = path
        self.lock = threading.Lock()

    def write(self, hop: str, what: str, **detail: Any) -> None:
        line = json.dumps({"at": time.time(), "hop": hop, "fault": what, **detail})
        print(f"fault injected: {line}", file=sys.stderr, flush=True)
        if self.path:
            with self.lock, open(self.path, "a", encoding="utf-8") as f:
                f.write(line + "\n")


StartResponse = Callable[..., Any]


class Faults:
    """WSGI middleware in front of moto that injects the faults listed in the
    module's doc, each once, in a fixed order: the same demo shows the same
    faults every time."""

    THROTTLED_CALL = 2
    PARTIAL_CALLS = (3, 4)
    PARTIAL_EVERY = 7
    S3_FAILURES = 3

    def __init__(self, app: Callable, log: FaultLog):
        self.app = app
        self.log = log
        self.lock = threading.Lock()
        self.put_records_calls = 0
        self.s3_failed_key: str | None = None
        self.s3_failures = 0

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.endswith(".PutRecords"):
            return self.put_records(environ, start_response)
        if environ.get("REQUEST_METHOD") == "PUT" and "/events/" in environ.get("PATH_INFO", ""):
            refused = self.put_object(environ)
            if refused is not None:
                return refused(start_response)
        return self.app(environ, start_response)

    # -- Kinesis --
    def put_records(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        body = _read_body(environ)
        with self.lock:
            self.put_records_calls += 1
            call = self.put_records_calls
        request = json.loads(body or b"{}")
        records = request.get("Records", [])
        stream = request.get("StreamName") or request.get("StreamARN", "")
        if call == self.THROTTLED_CALL:
            self.log.write("kinesis", "PutRecords refused whole: ProvisionedThroughputExceededException",
                           stream=stream, call=call, records=len(records))
            message = f"Rate exceeded for shard shardId-000000000000 in stream {stream} under account 123456789012."
            return _json_answer(start_response, "400 Bad Request",
                                {"__type": "ProvisionedThroughputExceededException", "message": message})
        if call not in self.PARTIAL_CALLS or len(records) < self.PARTIAL_EVERY:
            return self.app(_with_body(environ, body), start_response)
        failing = set(range(self.PARTIAL_EVERY - 1, len(records), self.PARTIAL_EVERY))
        kept = [r for i, r in enumerate(records) if i not in failing]
        answer, status, headers = _call(self.app, _with_body(environ, json.dumps({**request, "Records": kept}).encode()))
        if not status.startswith("200"):
            return _replay(start_response, status, headers, answer)
        accepted = iter(json.loads(answer)["Records"])
        results = []
        for i in range(len(records)):
            if i in failing:
                code = "InternalFailure" if i == max(failing) else "ProvisionedThroughputExceededException"
                results.append({"ErrorCode": code, "ErrorMessage": f"{code} (injected by chat_tools.emulator)"})
            else:
                results.append(next(accepted))
        self.log.write("kinesis", "PutRecords partial failure", stream=stream, call=call,
                       records=len(records), failed=len(failing))
        payload = {"FailedRecordCount": len(failing), "Records": results}
        return _json_answer(start_response, "200 OK", payload)

    # -- S3 --
    def put_object(self, environ: dict) -> Callable[[StartResponse], Iterable[bytes]] | None:
        key = environ.get("PATH_INFO", "")
        with self.lock:
            if self.s3_failed_key is None:
                self.s3_failed_key = key
            if key != self.s3_failed_key or self.s3_failures >= self.S3_FAILURES:
                return None
            self.s3_failures += 1
            attempt = self.s3_failures
        _read_body(environ)
        self.log.write("s3", "PutObject refused: 500 InternalError", key=key.lstrip("/"), attempt=attempt)
        xml = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
               b"<Message>We encountered an internal error. Please try again. (injected by chat_tools.emulator)"
               b"</Message></Error>")

        def answer(start_response: StartResponse) -> Iterable[bytes]:
            start_response("500 Internal Server Error", [("Content-Type", "application/xml"),
                                                         ("Content-Length", str(len(xml)))])
            return [xml]

        return answer


def _read_body(environ: dict) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else b""


def _with_body(environ: dict, body: bytes) -> dict:
    out = dict(environ)
    out["wsgi.input"] = io.BytesIO(body)
    out["CONTENT_LENGTH"] = str(len(body))
    return out


def _call(app: Callable, environ: dict) -> tuple[bytes, str, list]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list, exc_info: Any = None):
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return body, captured["status"], captured["headers"]


def _replay(start_response: StartResponse, status: str, headers: list, body: bytes) -> Iterable[bytes]:
    start_response(status, headers)
    return [body]


def _json_answer(start_response: StartResponse, status: str, payload: dict) -> Iterable[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))])
    return [body]


# --------------------------------------------------------------- server --
def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m chat_tools.emulator", description=__doc__.split("\n\n")[0])
    ap.add_argument("-H", "--host", default="127.0.0.1")
    ap.add_argument("-p", "--port", type=int, required=True)
    ap.add_argument("--faults", action="store_true", help="inject the faults listed in this file's doc")
    ap.add_argument("--fault-log", help="append each injected fault here, one JSON line each")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    moto_patch.fix_kinesis_race()
    app: Callable = DomainDispatcherApplication(create_backend_app)
    if args.faults:
        app = Faults(app, FaultLog(args.fault_log))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
