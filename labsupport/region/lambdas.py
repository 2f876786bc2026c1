"""Lambda functions that really run: ``Invoke`` and the deployment engines' hook calls.

moto stores what ``CreateFunction`` sends but runs a function only inside Docker, which a learner's
machine may not have. The lab's lessons need functions that run: CodeDeploy lifecycle hooks and ECS
blue/green hooks are Lambda functions whose code decides whether a deployment goes on or rolls back.
So the region runs Python functions itself, each invocation in its own **subprocess**:

- never in the region process, so learner code can neither break nor deadlock the region, and its
  boto3 calls reach the region over HTTP like any other client's (``AWS_ENDPOINT_URL`` points at the
  region, credentials are fake, ``AWS_CONFIG_FILE`` is empty: a function can never reach real AWS);
- with the environment Lambda gives (``AWS_REGION``, ``AWS_LAMBDA_FUNCTION_NAME``, ``_HANDLER``,
  ``LAMBDA_TASK_ROOT`` ...) plus the function's ``Environment.Variables``, and a ``context`` with
  ``function_name``, ``aws_request_id``, ``get_remaining_time_in_millis()`` and the other fields of
  the Python runtime's context object;
- with the function's ``Timeout`` (default 3 s, at most 900 s) enforced in real seconds, counted from
  when the handler starts, as Lambda counts it (the import of the module, Lambda's *init* phase, has
  its own budget of 10 s): the process group is killed when the time is up.

What a caller sees is what Lambda answers: 200 with the JSON the handler returned; for a function
error 200 as well, with ``X-Amz-Function-Error: Unhandled`` and the Python runtime's error document
``{"errorMessage", "errorType", "requestId", "stackTrace"}``; a timeout is ``Sandbox.Timedout``;
an unknown function ``ResourceNotFoundException`` (404); ``InvocationType=Event`` answers 202 at once
and runs in the background; ``DryRun`` answers 204; ``LogType=Tail`` returns the last 4 KB of the
function's output in ``X-Amz-Log-Result``.

Differences from Lambda, on purpose: every invocation is a cold start (a fresh process; globals do
not survive between invocations, which Lambda does not promise either); the region runs the code
with its own Python 3 whatever ``python3.x`` runtime the function names (other runtimes and container
images are refused with ``UnsupportedOperation``); failed asynchronous invocations are not retried;
the function's output stays in the invocation log (:meth:`Lambdas.log`) rather than CloudWatch Logs.

The deployment engines use :meth:`Lambdas.invoke_async`: the function runs in a worker thread
*without* the region lock (it calls back into the region over HTTP, so holding the lock while it
runs would deadlock), and the engine's ``on_done(result, error)`` runs *with* the lock held, so it
may change the region's state like any clock event.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import io
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import runtime
from .protocol import AwsError, AwsRequest
from .rules import Context, RawResponse, handler

if TYPE_CHECKING:
    from .runtime import World

DEFAULT_TIMEOUT = 3  # seconds, Lambda's default
MAX_TIMEOUT = 900  # seconds, Lambda's maximum (15 minutes)
INIT_BUDGET = 10.0  # seconds Lambda gives the init phase (importing the handler's module)
SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024  # bytes, Lambda's limit for a RequestResponse request
TAIL_BYTES = 4096  # what LogType=Tail returns, as Lambda does
LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks a function's code (tracebacks show it)
MAX_RUNNING = 4  # functions running at once: 2 cores, and each process imports boto3 (~60 MB)
LOG_KEEP = 200  # invocations kept in the log; older ones are dropped
OUTPUT_KEEP = 8192  # bytes of each invocation's output kept in the log
# Request IDs are derived from the region's seed and a counter, so a replayed lesson shows the same IDs.
_REQUEST_ID_NAMESPACE = uuid.UUID("6c616273-7570-706f-7274-2d6c616d6264")
_INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")

OnDone = Callable[[Any, "str | None"], None]


# The program each invocation's subprocess runs (``python -c``). It reads the event from a file,
# imports the handler (the init phase), tells the region it is ready on a private pipe, calls the
# handler and writes the result or the Python runtime's error document to that pipe. stdout and
# stderr are the function's log, exactly as print() output goes to the log on Lambda.
_BOOTSTRAP = r"""
import importlib, json, os, sys, time, traceback


class LambdaContext:
    def __init__(self, env, request_id, arn, timeout):
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = request_id
        self.log_group_name = env["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def frames(exc):
    # The handler's frames only: the bootstrap's own frame ("<string>") is the runtime's, not the user's.
    return traceback.format_list([f for f in traceback.extract_tb(exc.__traceback__) if f.filename != "<string>"])


def main():
    env = os.environ
    channel = os.fdopen(int(env.pop("_LAB_CHANNEL_FD")), "w", encoding="utf-8")
    os.set_inheritable(channel.fileno(), False)
    timeout = float(env.pop("_LAB_TIMEOUT"))
    request_id = env.pop("_LAB_REQUEST_ID")
    arn = env.pop("_LAB_FUNCTION_ARN")
    with open(env.pop("_LAB_EVENT_FILE"), "rb") as source:
        event = json.loads(source.read())

    def send(kind, body=None):
        channel.write(json.dumps({"kind": kind, "body": body}) + "\n")
        channel.flush()

    def finish(kind, body):
        sys.stdout.flush()
        sys.stderr.flush()
        send(kind, body)
        channel.close()
        os._exit(0)

    def fail(error_type, message, stack=()):
        print(f"[ERROR] {error_type}: {message}", file=sys.stderr)
        if stack:
            print("Traceback (most recent call last):\n" + "".join(stack), end="", file=sys.stderr)
        error = {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": list(stack)}
        finish("error", error)

    handler_name = env["_HANDLER"]
    module_name, _, function_name = handler_name.rpartition(".")
    if not module_name or not function_name:
        message = f"Bad handler '{handler_name}': not enough values to unpack (expected 2, got 1)"
        fail("Runtime.MalformedHandlerName", message)
    sys.path.insert(0, env["LAMBDA_TASK_ROOT"])
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except SyntaxError as exc:
        fail("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}")
    except ImportError as exc:
        fail("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
    except Exception as exc:
        fail(type(exc).__name__, str(exc), frames(exc))
    function = getattr(module, function_name, None)
    if not callable(function):
        fail("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    send("ready")
    context = LambdaContext(env, request_id, arn, timeout)
    try:
        result = function(event, context)
    except Exception as exc:
        fail(type(exc).__name__, str(exc), frames(exc))
    try:
        text = json.dumps(result)
    except (TypeError, ValueError) as exc:
        fail("Runtime.MarshalError", f"Unable to marshal response: {exc}")
    finish("result", text)


main()
"""


@dataclass(frozen=True)
class FunctionCode:
    """What one invocation needs, copied out of moto's model under the lock (moto may change after)."""

    name: str
    arn: str
    version: str
    handler: str
    runtime: str
    timeout: int
    memory_size: int
    environment: dict[str, str]
    code: bytes


@dataclass
class Outcome:
    """How one invocation ended: ``payload`` (the returned JSON text) or ``error`` (Lambda's document)."""

    request_id: str
    version: str = "$LATEST"
    payload: str | None = None
    error: dict[str, Any] | None = None
    output: str = ""
    duration: float = 0.0
    timed_out: bool = False

    def result(self) -> Any:
        """The handler's return value (parsed JSON), or None after an error."""
        return json.loads(self.payload) if self.payload is not None else None

    def error_text(self) -> str | None:
        """``"ErrorType: message"``, or None when the function succeeded."""
        if self.error is None:
            return None
        kind = self.error.get("errorType") or "Unhandled"
        return f"{kind}: {self.error.get('errorMessage', '')}"


class Lambdas:
    """The region's Lambda runner: ``world.lambdas``. See the module docstring."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.endpoint: str | None = None
        self._log: list[dict[str, Any]] = []
        self._counter = 0
        self._generation = 0
        self._slots = threading.BoundedSemaphore(MAX_RUNNING)
        # A private lock for the bookkeeping that must work without the region lock (processes to
        # kill on reset, invocations in flight for wait_idle).
        self._state = threading.Condition(threading.Lock())
        self._in_flight = 0
        self._processes: set[subprocess.Popen[bytes]] = set()
        atexit.register(self._kill_all)

    # -- where the region listens ----------------------------------------------------------------
    def set_endpoint(self, url: str) -> None:
        """The URL functions use to reach the region (``AWS_ENDPOINT_URL`` inside a function)."""
        self.endpoint = url.rstrip("/")

    def learn_endpoint(self, environ: dict[str, Any]) -> None:
        """Take the endpoint from a request's WSGI environ: the address the server is bound to."""
        host = str(environ.get("SERVER_NAME") or "127.0.0.1")
        port = environ.get("SERVER_PORT")
        if not port:
            return
        if host in ("0.0.0.0", "", "localhost"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        self.set_endpoint(f"http://{host}:{port}")

    # -- the in-region API for the deployment engines ----------------------------------------------
    def invoke_async(self, function_name: str, payload: Any, on_done: OnDone, *, caller: str = "region") -> str:
        """Invoke ``function_name`` with ``payload`` (JSON-able) in the background; return the request ID.

        ``on_done(result, error)`` is called exactly once, from a worker thread, **holding the region
        lock**: ``result`` is the handler's return value (parsed JSON) and ``error`` None, or ``result``
        None and ``error`` a one-line ``"ErrorType: message"`` (``ResourceNotFoundException: ...`` for a
        function that does not exist, ``Sandbox.Timedout: ...``, ``ValueError: ...`` ...). It is not
        called when the region is reset before the function finishes. May be called with or without
        the lock held. ``caller`` names the engine in the invocation log ("codedeploy", "ecs" ...).
        """
        body = json.dumps(payload).encode()
        with self.world.lock:
            try:
                function: FunctionCode | str = self._function(function_name, None)
            except AwsError as err:
                function = f"{err.code}: {err.message}"
            return self._start(function_name, function, body, on_done, caller)

    def _start(self, name: str, function: FunctionCode | str, body: bytes, on_done: OnDone, caller: str) -> str:
        """Run ``function`` (or report the refusal ``function`` is) in a worker thread; lock held."""
        request_id = self._next_request_id()
        generation = self._generation
        self._started()

        def work() -> None:
            try:
                if isinstance(function, str):
                    code, _, message = function.partition(": ")
                    outcome = Outcome(request_id, error={"errorType": code, "errorMessage": message})
                else:
                    outcome = self._execute(function, body, request_id)
                with self.world.lock:
                    if generation != self._generation:
                        return  # the region was reset meanwhile: nobody is waiting for this any more
                    self._record(name, caller, body, outcome)
                    try:
                        on_done(outcome.result(), outcome.error_text())
                    except Exception as exc:  # an engine bug must not kill the worker silently
                        self.world.clock.errors.append(f"lambda on_done for {name}: {type(exc).__name__}: {exc}")
                        del self.world.clock.errors[:-20]
            finally:
                self._finished()

        threading.Thread(target=work, name=f"lambda {name}", daemon=True).start()
        return request_id

    def invoke_sync(self, function_name: str, payload: Any, *, caller: str = "region") -> tuple[Any, str | None]:
        """Run ``function_name`` now and return ``(result, error)`` as :meth:`invoke_async` reports them.

        For tests and tools. Must be called **without** the region lock: the function may call back
        into the region, which needs it.
        """
        self._refuse_if_locked("invoke_sync")
        outcome = self.invoke(function_name, json.dumps(payload).encode(), caller=caller)
        return outcome.result(), outcome.error_text()

    def invoke(
        self, function_name: str, body: bytes, *, qualifier: str | None = None, caller: str = "region"
    ) -> Outcome:
        """Run a function synchronously (without the lock) and log it. Raises AwsError if it cannot run."""
        with self.world.lock:
            function = self._function(function_name, qualifier)
            request_id = self._next_request_id()
            generation = self._generation
        self._started()
        try:
            outcome = self._execute(function, body, request_id)
        finally:
            self._finished()
        outcome.version = function.version
        with self.world.lock:
            if generation == self._generation:
                self._record(function.name, caller, body, outcome)
        return outcome

    # -- reading -----------------------------------------------------------------------------------
    def log(self) -> list[dict[str, Any]]:
        """Every invocation since the last reset, oldest first, as JSON-ready dicts (for ``/_lab/``)."""
        with self.world.lock:
            return [dict(entry) for entry in self._log]

    def in_flight(self) -> int:
        """Invocations started and not yet finished (their ``on_done`` not yet run)."""
        with self._state:
            return self._in_flight

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no invocation is running; False if ``timeout`` seconds passed first.

        Must be called without the region lock (a finishing invocation needs it for ``on_done``).
        """
        self._refuse_if_locked("wait_idle")
        deadline = time.monotonic() + timeout
        with self._state:
            while self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._state.wait(remaining)
        return True

    def clear(self) -> None:
        """Forget the log and stop every running function (the region is being reset)."""
        self._generation += 1
        self._counter = 0
        self._log.clear()
        self._kill_all()

    # -- the Invoke API ----------------------------------------------------------------------------
    def answer_invoke(self, request: AwsRequest) -> RawResponse:
        """Lambda ``Invoke`` over HTTP (called without the region lock; see :func:`_invoke`)."""
        name = str(request.get("FunctionName") or "")
        qualifier = request.get("Qualifier")
        kind = request.get("InvocationType") or "RequestResponse"
        if kind not in _INVOCATION_TYPES:
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value '{kind}' at 'invocationType' failed to satisfy constraint: "
                "Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
            )
        body = request.raw_body or b"{}"
        if kind == "RequestResponse" and len(body) > SYNC_PAYLOAD_LIMIT:
            raise AwsError(
                "RequestTooLargeException",
                f"Request must be smaller than {SYNC_PAYLOAD_LIMIT} bytes for the InvokeFunction operation",
                status=413,
            )
        try:
            json.loads(body)
        except ValueError as exc:
            raise AwsError("InvalidRequestContentException", f"Could not parse request body into json: {exc}") from None
        headers = {"Content-Type": "application/json"}
        if kind != "RequestResponse":
            with self.world.lock:
                function = self._function(name, qualifier)  # ResourceNotFoundException before anything runs
                if kind == "Event":
                    self._start(function.name, function, body, _ignore, "Event")
            headers["X-Amz-Executed-Version"] = function.version
            return RawResponse(status=202 if kind == "Event" else 204, headers=headers)
        outcome = self.invoke(name, body, qualifier=qualifier, caller="RequestResponse")
        headers["X-Amz-Executed-Version"] = outcome.version
        if request.get("LogType") == "Tail":
            headers["X-Amz-Log-Result"] = base64.b64encode(outcome.output.encode()[-TAIL_BYTES:]).decode()
        if outcome.error is not None:
            headers["X-Amz-Function-Error"] = "Unhandled"
            return RawResponse(json.dumps(outcome.error).encode(), 200, headers)
        return RawResponse((outcome.payload or "null").encode(), 200, headers)

    # -- internals ---------------------------------------------------------------------------------
    def _function(self, name: str, qualifier: str | None) -> FunctionCode:
        """The function to run, copied out of moto (call with the lock held); AwsError if it cannot run."""
        if self.endpoint is None:
            raise AwsError(
                "InternalFailure",
                "The offline lab region does not know its own address yet, so a function could not call it. "
                "This is a bug in the lab; `python -m labsupport region reset` starts clean.",
            )
        backend = self.world.backend("lambda")
        try:
            fn = backend.get_function(name, qualifier)
        except Exception as exc:  # moto's RESTError subclasses carry the AWS code, message and status
            code = getattr(exc, "error_type", None)
            if code is None:
                raise
            raise AwsError(code, getattr(exc, "message", str(exc)), status=int(getattr(exc, "code", 400))) from None
        runtime_name = str(fn.run_time or "")
        if fn.package_type != "Zip" or not runtime_name.startswith("python3"):
            what = "container images" if fn.package_type != "Zip" else f"the {runtime_name or 'unknown'} runtime"
            raise AwsError(
                "UnsupportedOperation",
                f"The offline lab region runs Python functions only (python3.x runtimes, zip packages); "
                f"{fn.function_name} uses {what}. It would run on real AWS. Fix: use Runtime python3.12 and a zip.",
            )
        return FunctionCode(
            name=fn.function_name,
            arn=fn.function_arn,
            version=str(fn.version),
            handler=str(fn.handler or ""),
            runtime=runtime_name,
            timeout=min(max(int(fn.timeout or DEFAULT_TIMEOUT), 1), MAX_TIMEOUT),
            memory_size=int(fn.memory_size or 128),
            environment={str(k): str(v) for k, v in (fn.environment_vars or {}).items()},
            code=bytes(getattr(fn, "code_bytes", b"") or b""),
        )

    def _next_request_id(self) -> str:
        self._counter += 1
        return str(uuid.uuid5(_REQUEST_ID_NAMESPACE, f"{self.world.seed}:{self._counter}"))

    def _record(self, name: str, caller: str, body: bytes, outcome: Outcome) -> None:
        try:
            payload: Any = json.loads(body)
        except ValueError:
            payload = body.decode("utf-8", "replace")
        self._log.append(
            {
                "request_id": outcome.request_id,
                "function_name": name,
                "caller": caller,
                "at": datetime.fromtimestamp(self.world.clock.now(), tz=UTC).isoformat().replace("+00:00", "Z"),
                "payload": payload,
                "result": outcome.result(),
                "error": outcome.error,
                "duration_seconds": round(outcome.duration, 3),
                "output": outcome.output[-OUTPUT_KEEP:],
            }
        )
        del self._log[:-LOG_KEEP]

    def _started(self) -> None:
        with self._state:
            self._in_flight += 1

    def _finished(self) -> None:
        with self._state:
            self._in_flight -= 1
            self._state.notify_all()

    def _refuse_if_locked(self, what: str) -> None:
        owned = getattr(self.world.lock, "_is_owned", None)
        if owned is not None and owned():
            raise RuntimeError(f"{what} would deadlock: it was called holding the region lock")

    def _kill_all(self) -> None:
        with self._state:
            processes = list(self._processes)
        for process in processes:
            _kill_group(process)

    def _environment(self, function: FunctionCode, request_id: str, task_root: str, home: str) -> dict[str, str]:
        assert self.endpoint is not None  # _function() refuses to snapshot a function before it is known
        day = datetime.fromtimestamp(self.world.clock.now(), tz=UTC)
        stream = f"{day:%Y/%m/%d}/[{function.version}]{request_id.replace('-', '')}"
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "HOME": home,
        }
        env.update(function.environment)
        env.update(
            {
                # Lambda's reserved variables, and the lab's own: these always win over the function's.
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_REGION": self.world.region,
                "AWS_DEFAULT_REGION": self.world.region,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
                "AWS_LAMBDA_FUNCTION_NAME": function.name,
                "AWS_LAMBDA_FUNCTION_VERSION": function.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "LAMBDA_TASK_ROOT": task_root,
                "LAMBDA_RUNTIME_DIR": os.path.dirname(sys.executable),
                "_HANDLER": function.handler,
                "_LAB_TIMEOUT": str(function.timeout),
                "_LAB_REQUEST_ID": request_id,
                "_LAB_FUNCTION_ARN": function.arn,
            }
        )
        return env

    def _execute(self, function: FunctionCode, body: bytes, request_id: str) -> Outcome:
        """Run one invocation in a subprocess (never holding the region lock). Never raises."""
        with self._slots, tempfile.TemporaryDirectory(prefix="lab-lambda-") as scratch:
            started = time.monotonic()
            try:
                outcome = self._run_process(function, body, request_id, scratch)
            except Exception as exc:  # the lab failed to run it (no fork, full disk ...): say so, as an error
                outcome = Outcome(
                    request_id,
                    error={
                        "errorType": "Runtime.Unknown",
                        "errorMessage": f"The offline lab region could not run the function: {exc!r}",
                    },
                )
            outcome.duration = time.monotonic() - started
            # Lambda's START and END lines; not its REPORT line, whose real-time durations would make
            # the same lesson print different logs on every run (the duration is in the invocation log).
            outcome.output = (
                f"START RequestId: {request_id} Version: {function.version}\n{outcome.output}"
                f"END RequestId: {request_id}\n"
            )
            return outcome

    def _run_process(self, function: FunctionCode, body: bytes, request_id: str, scratch: str) -> Outcome:
        task_root = os.path.join(scratch, "task")
        os.mkdir(task_root)
        try:
            with zipfile.ZipFile(io.BytesIO(function.code)) as archive:
                archive.extractall(task_root)  # extractall drops absolute paths and ".." members
        except (zipfile.BadZipFile, OSError, ValueError):
            pass  # an empty or broken package: the import fails below, as it would on Lambda
        event_file = os.path.join(scratch, "event.json")
        with open(event_file, "wb") as handle:
            handle.write(body)
        env = self._environment(function, request_id, task_root, scratch)
        env["_LAB_EVENT_FILE"] = event_file
        read_end, write_end = os.pipe()
        env["_LAB_CHANNEL_FD"] = str(write_end)
        output_path = os.path.join(scratch, "output.log")
        with open(output_path, "wb") as output:
            # -I: ignore the region's PYTHON* variables and user site; -u: output reaches the log even
            # if the function is killed; -B: no .pyc files. A new session, so a timeout kills the
            # function's own children too.
            process = subprocess.Popen(
                [sys.executable, "-I", "-u", "-B", "-c", _BOOTSTRAP],
                cwd=task_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                pass_fds=(write_end,),
                start_new_session=True,
            )
        os.close(write_end)
        with self._state:
            self._processes.add(process)
        channel = _Channel(read_end)
        try:
            message = channel.receive(time.monotonic() + max(INIT_BUDGET, function.timeout))
            if message.get("kind") == "ready":
                message = channel.receive(time.monotonic() + function.timeout)
            kind = message.get("kind")
            if kind == "result":
                outcome = Outcome(request_id, payload=str(message["body"]))
            elif kind == "error":
                outcome = Outcome(request_id, error=dict(message["body"]))
            elif kind == "timeout":
                outcome = Outcome(
                    request_id,
                    error={
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"RequestId: {request_id} Error: {_timed_out(function)}",
                    },
                    timed_out=True,
                )
            else:  # the process ended without an answer: sys.exit(), os._exit(), a crash, a kill
                _kill_group(process, wait=True)
                status = process.returncode
                reason = f"signal: {signal.Signals(-status).name}" if status < 0 else f"exit status {status}"
                outcome = Outcome(
                    request_id,
                    error={
                        "errorType": "Runtime.ExitError",
                        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {reason}",
                    },
                )
        finally:
            channel.close()
            _kill_group(process, wait=True)
            with self._state:
                self._processes.discard(process)
        with open(output_path, "rb") as output:
            outcome.output = output.read().decode("utf-8", "replace")
        # Tracebacks name the code where Lambda keeps it, not the region's scratch directory: the same
        # on every run, and the path a learner will see on AWS.
        outcome.output = outcome.output.replace(task_root, LAMBDA_TASK_ROOT)
        if outcome.error and isinstance(outcome.error.get("stackTrace"), list):
            outcome.error["stackTrace"] = [
                str(line).replace(task_root, LAMBDA_TASK_ROOT) for line in outcome.error["stackTrace"]
            ]
        if outcome.timed_out:
            outcome.output += f"{request_id} {_timed_out(function)}\n"
        return outcome


class _Channel:
    """The private pipe a function's bootstrap reports on: one JSON message per line."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""

    def receive(self, deadline: float) -> dict[str, Any]:
        """The next message; ``{"kind": "timeout"}`` at the deadline, ``{"kind": "eof"}`` if the pipe closed."""
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return {"kind": "timeout"}
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return {"kind": "eof"}
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            message = json.loads(line)
        except ValueError:
            return {"kind": "eof"}
        return message if isinstance(message, dict) else {"kind": "eof"}

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _kill_group(process: subprocess.Popen[bytes], wait: bool = False) -> None:
    """Kill the function's process and everything it started (its session's process group).

    Only while the process is not yet reaped: until then its PID (the group's ID) cannot be reused,
    so the signal can only reach the function's own processes.
    """
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if wait:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def _timed_out(function: FunctionCode) -> str:
    return f"Task timed out after {function.timeout:.2f} seconds"


def _ignore(result: Any, error: str | None) -> None:
    """``on_done`` of an Event invocation: nobody waits for its result (it is in the log)."""


@handler("lambda", "Invoke", locked=False)
def _invoke(request: AwsRequest, ctx: Context) -> RawResponse:
    """Lambda ``Invoke``: runs the function in a subprocess, without holding the region lock."""
    return runtime.get().lambdas.answer_invoke(request)
