"""lambda-steps bundled Python runtime: speaks the Lambda Runtime API (2018-06-01) for one
execution environment, loading the handler and formatting errors as AWS's Python runtime
(awslambdaric) does."""

import http.client
import importlib
import json
import os
import sys
import time
import traceback

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
PREFIX = "/2018-06-01/runtime"
_conn = None


def _request(method, path, body=None, headers=None):
    global _conn
    for attempt in (0, 1):
        if _conn is None:
            _conn = http.client.HTTPConnection(API)
        try:
            _conn.request(method, PREFIX + path, body=body, headers=headers or {})
            response = _conn.getresponse()
            return response, response.read()
        except (ConnectionError, http.client.HTTPException):
            _conn.close()
            _conn = None
            if attempt:
                raise


def _error(message, kind, trace=None, request_id=""):
    return {"errorMessage": message, "errorType": kind, "requestId": request_id, "stackTrace": trace or []}


def _log_error(error):
    lines = ["[ERROR] %s: %s" % (error["errorType"], error["errorMessage"])]
    if error.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        for frame in error["stackTrace"]:
            lines.extend(frame.rstrip("\n").splitlines())
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


class FaultException(Exception):
    def __init__(self, kind, message, trace=None):
        super().__init__(message)
        self.kind, self.message, self.trace = kind, message, trace


def load_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException("Runtime.MalformedHandlerName", "Bad handler '{}': {}".format(handler, e))
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                "Runtime.BuiltInModuleConflict", "Cannot use built-in module {} as a handler module".format(modname)
            )
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException("Runtime.ImportModuleError", "Unable to import module '{}': {}".format(modname, e))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException("Runtime.UserCodeSyntaxError", "Syntax error in module '{}': {}".format(modname, e), trace)
    try:
        return getattr(module, fname)
    except AttributeError:
        raise FaultException("Runtime.HandlerNotFound", "Handler '{}' missing on module '{}'".format(fname, modname))


class Client:
    def __init__(self, client, custom, env):
        self.client, self.custom, self.env = client, custom, env


class LambdaContext:
    def __init__(self, request_id, deadline_ms, arn, client_context):
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self._deadline_ms = int(deadline_ms or 0)
        self.client_context = None
        if client_context:
            cc = json.loads(client_context)
            self.client_context = Client(cc.get("client"), cc.get("custom"), cc.get("env"))

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg):
        sys.stdout.write(str(msg))


def handle(handler, headers, body):
    request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
    os.environ["_X_AMZN_TRACE_ID"] = headers.get("Lambda-Runtime-Trace-Id") or ""
    error = None
    try:
        context = LambdaContext(
            request_id,
            headers.get("Lambda-Runtime-Deadline-Ms"),
            headers.get("Lambda-Runtime-Invoked-Function-Arn"),
            headers.get("Lambda-Runtime-Client-Context"),
        )
        try:
            event = json.loads(body) if body else {}
        except ValueError as e:
            raise FaultException("Runtime.UnmarshalError", "Unable to unmarshal input: {}".format(e))
        result = handler(event, context)
        try:
            payload = json.dumps(result).encode()
        except (TypeError, ValueError) as e:
            raise FaultException("Runtime.MarshalError", "Unable to marshal response: {}".format(e))
    except FaultException as e:
        error = _error(e.message, e.kind, e.trace, request_id)
    except Exception as e:
        frames = traceback.extract_tb(sys.exc_info()[2])
        frames = [f for f in frames if not f.filename.endswith("bootstrap.py")]
        error = _error(str(e), type(e).__name__, traceback.format_list(frames), request_id)
    if error is not None:
        _log_error(error)
        _request(
            "POST",
            "/invocation/%s/error" % request_id,
            json.dumps(error).encode(),
            {"Lambda-Runtime-Function-Error-Type": "Unhandled", "Content-Type": "application/json"},
        )
    else:
        _request("POST", "/invocation/%s/response" % request_id, payload, {"Content-Type": "application/json"})


def main():
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except FaultException as e:
        error = _error(e.message, e.kind, e.trace)
        _log_error(error)
        _request("POST", "/init/error", json.dumps(error).encode(), {"Lambda-Runtime-Function-Error-Type": e.kind})
        sys.exit(1)
    except Exception as e:
        error = _error(str(e), "Runtime.Unknown" if not type(e).__name__ else type(e).__name__,
                       traceback.format_list(traceback.extract_tb(sys.exc_info()[2])))
        _log_error(error)
        _request("POST", "/init/error", json.dumps(error).encode(), {"Lambda-Runtime-Function-Error-Type": error["errorType"]})
        sys.exit(1)
    while True:
        response, body = _request("GET", "/invocation/next")
        if response.status != 200:
            sys.exit(0)
        handle(handler, response.headers, body)


if __name__ == "__main__":
    main()
