# Project A's custom code in the escape suite: tries every attempt the test hands it in the
# event and answers what it observed, one entry per case. It judges nothing: the test holds
# the table of what each case must observe. Standard library only, as a tenant would write it.
import errno
import json
import os
import signal
import socket
import time
import urllib.error
import urllib.request

CONNECT_SECONDS = 2


def lambda_handler(event, context):
    return {attempt["case"]: KINDS[attempt["kind"]](attempt) for attempt in event["attempts"]}


def error_name(e):
    code = getattr(e, "errno", None)
    return errno.errorcode.get(code, type(e).__name__) if code else f"{type(e).__name__}: {e}"


def connect(family, address):
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_SECONDS)
    try:
        sock.connect(address)
        return {"connected": True}
    except OSError as e:
        return {"connected": False, "error": error_name(e)}
    finally:
        sock.close()


def tcp(attempt):
    out = []
    for host, port in attempt["targets"]:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        out.append({"target": f"{host} {port}", **connect(family, (host, port))})
    return out


def unix(attempt):
    return [{"target": path, **connect(socket.AF_UNIX, path)} for path in attempt["paths"]]


def abstract(attempt):
    return [{"target": "@" + name, **connect(socket.AF_UNIX, "\0" + name)} for name in attempt["names"]]


def http(attempt):
    out = []
    for request in attempt["requests"]:
        body = request.get("body")
        call = urllib.request.Request(
            request["url"],
            data=body.encode() if body is not None else None,
            headers=request.get("headers", {}),
            method=request["method"],
        )
        seen = {"target": f"{request['method']} {request['url']}"}
        try:
            with urllib.request.urlopen(call, timeout=5) as answer:
                seen.update(status=answer.status, body=answer.read(2000).decode(errors="replace"))
        except urllib.error.HTTPError as answer:
            seen.update(
                status=answer.code,
                error_type=answer.headers.get("x-amzn-errortype", ""),
                body=answer.read(2000).decode(errors="replace"),
            )
        except (OSError, urllib.error.URLError) as e:
            seen.update(error=error_name(getattr(e, "reason", e)))
        out.append(seen)
    return out


def runtime_api(attempt):
    """A long-poll on another environment's invocation/next, unless the address is our own."""
    own = os.environ.get("AWS_LAMBDA_RUNTIME_API", "")
    out = []
    for address in attempt["addresses"]:
        if address == own:
            out.append({"target": address, "own_address": True})
            continue
        host, port = address.rsplit(":", 1)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_SECONDS)
        try:
            sock.connect((host, int(port)))
            sock.sendall(f"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
            try:
                answer = sock.recv(500).decode(errors="replace")
            except socket.timeout:
                answer = "no answer yet: the long poll is held"
            out.append({"target": address, "connected": True, "answer": answer})
        except OSError as e:
            out.append({"target": address, "connected": False, "error": error_name(e)})
        finally:
            sock.close()
    return out


def session_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        # The command in parentheses may hold spaces; the fields after it do not.
        return int(f.read().rsplit(")", 1)[1].split()[3])


def foreign_pids():
    """Visible processes outside this environment's session (0: a session whose leader is
    outside our PID namespace, which is the sandbox's own init)."""
    own = os.getsid(0)
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            session = session_of(name)
        except OSError:
            continue
        if session not in (own, 0):
            found.append(int(name))
    return found


def processes(attempt):
    out = []
    for pid in foreign_pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read(200).replace(b"\0", b" ").decode(errors="replace")
        except OSError as e:
            command = error_name(e)
        out.append({"pid": pid, "cmdline": command})
    return out


def environs(attempt):
    out = []
    for pid in foreign_pids():
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                text = f.read(8000).decode(errors="replace")
            # Names only: the values may be anybody's secrets, and this answer is stored.
            names = [v.split("=", 1)[0] for v in text.split("\0") if v]
            out.append({"pid": pid, "read": True, "names": names[:40]})
        except OSError as e:
            out.append({"pid": pid, "read": False, "error": error_name(e)})
    return out


def proc_roots(attempt):
    """Another process's root and working directory lead to its /tmp."""
    out = []
    for pid in foreign_pids():
        for way in ("root", "cwd"):
            path = f"/proc/{pid}/{way}/tmp/{attempt['marker']}"
            out.append({"target": path, **read_one(path)})
    return out


def read_one(path):
    try:
        with open(path, "rb") as f:
            return {"read": True, "content": f.read(300).decode(errors="replace")}
    except OSError as e:
        return {"read": False, "error": error_name(e)}


def files(attempt):
    """Reads every file under each path (a few levels down); lists directories."""
    out = []
    budget = [400]

    def visit(path, depth):
        if budget[0] <= 0:
            return
        budget[0] -= 1
        if os.path.isdir(path):
            try:
                entries = sorted(os.listdir(path))
            except OSError as e:
                out.append({"target": path, "listed": False, "error": error_name(e)})
                return
            out.append({"target": path, "listed": True, "entries": entries[:50]})
            if depth < 4:
                for entry in entries:
                    visit(os.path.join(path, entry), depth + 1)
        else:
            out.append({"target": path, **read_one(path)})

    for path in attempt["paths"]:
        visit(path, 0)
    return out


def fill_tmp(attempt):
    """Writes /tmp full, 16 MB at a time, up to a cap that keeps a missing limit from filling
    the host's disk; removes what it wrote."""
    chunk = b"\1" * (16 << 20)
    written, stopped = 0, None
    paths = []
    try:
        while written < attempt["cap_mb"] << 20:
            path = f"/tmp/fill-{len(paths)}"
            paths.append(path)
            with open(path, "wb") as f:
                for _ in range(4):
                    f.write(chunk)
                    f.flush()
                    written += len(chunk)
    except OSError as e:
        stopped = error_name(e)
    finally:
        for path in paths:
            try:
                os.remove(path)
            except OSError:
                pass
    return {"written_mb": written >> 20, "stopped_by": stopped}


def fork_bomb(attempt):
    """Starts processes that hold for a while until the kernel refuses one (or a cap that
    keeps a missing limit from exhausting the host); then ends them all."""
    children, stopped = [], None
    deadline = time.time() + attempt["seconds"]
    while len(children) < attempt["cap"] and time.time() < deadline:
        try:
            pid = os.fork()
        except OSError as e:
            stopped = error_name(e)
            break
        if pid == 0:
            try:
                os.execv("/bin/sleep", ["sleep", str(attempt["hold_seconds"])])
            finally:
                os._exit(0)
        children.append(pid)
    # Hold the whole lot while B goes on starting processes of its own.
    time.sleep(attempt["hold_seconds"] / 2)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
    return {"processes": len(children), "stopped_by": stopped}


def memory_hog(attempt):
    """Touches memory 16 MB at a time, saying how far it got before each step, so a kill
    leaves the figure in the log."""
    blocks = []
    try:
        while len(blocks) * 16 < attempt["cap_mb"]:
            print(f"hog touched {len(blocks) * 16} MB", flush=True)
            blocks.append(b"\1" * (16 << 20))
    except MemoryError:
        return {"touched_mb": len(blocks) * 16, "stopped_by": "MemoryError"}
    return {"touched_mb": len(blocks) * 16, "stopped_by": None}


KINDS = {
    "tcp": tcp,
    "unix": unix,
    "abstract": abstract,
    "http": http,
    "runtime_api": runtime_api,
    "processes": processes,
    "environs": environs,
    "proc_roots": proc_roots,
    "files": files,
    "fill_tmp": fill_tmp,
    "fork_bomb": fork_bomb,
    "memory_hog": memory_hog,
}
