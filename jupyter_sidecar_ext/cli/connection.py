"""A kernel connection file read for `jupyter sidecar execute --existing`, checked first.

jupyter_client trusts the file: `[]` or `shell_port: "abc"` end in a traceback, an unknown
`signature_scheme` in a TraitError, and `{}` connects to port 0 and reports "Kernel died".
Each problem is said here in one line instead (a usage error: exit status 2).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from jupyter_client.connect import KernelConnectionInfo

from .client import CLIError

PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
TRANSPORTS = ("tcp", "ipc")
MAX_PORT = 65535
# hashlib's guaranteed hashes that HMAC can use (the shake ones need a length)
DIGESTS = frozenset(hashlib.algorithms_guaranteed) - {"shake_128", "shake_256"}


def read_connection_file(path: str) -> KernelConnectionInfo:
    """The connection info of the file at `path`; CLIError (status 2) naming what is wrong."""
    try:
        text = Path(path).read_bytes()
    except OSError as error:
        raise CLIError(f"cannot read connection file {path}: {error.strerror}", status=2) from None
    return parse_connection_info(text, path)


def parse_connection_info(text: bytes | str, path: str) -> KernelConnectionInfo:
    """Connection info as jupyter_client's `load_connection_info` takes it, checked."""
    try:
        info = json.loads(text)
    except (ValueError, RecursionError):
        raise _bad(path, "is not JSON") from None
    if not isinstance(info, dict):
        raise _bad(path, f"is a JSON {type(info).__name__}, not an object")
    transport = info.get("transport", "tcp")
    if transport not in TRANSPORTS:
        raise _bad(path, f"has transport {_show(transport)}: expected 'tcp' or 'ipc'")
    lowest = 1 if transport == "tcp" else 0
    for name in PORTS:
        if name not in info:
            raise _bad(path, f"has no {name}")
        port = info[name]
        if type(port) is not int or not lowest <= port <= MAX_PORT:
            raise _bad(path, f"has {name} {_show(port)}: expected {lowest}-{MAX_PORT}")
    ip = info.get("ip", "127.0.0.1")
    if not isinstance(ip, str) or not ip or "\0" in ip:
        raise _bad(path, f"has ip {_show(ip)}: expected an address")
    key = info.get("key", "")
    if not isinstance(key, str):
        raise _bad(path, "has a key that is not a string")
    scheme = info.get("signature_scheme", "hmac-sha256")
    if not isinstance(scheme, str) or _digest(scheme) is None:
        raise _bad(path, f"has signature_scheme {_show(scheme)}: expected e.g. 'hmac-sha256'")
    checked: KernelConnectionInfo = {
        "shell_port": info["shell_port"],
        "iopub_port": info["iopub_port"],
        "stdin_port": info["stdin_port"],
        "control_port": info["control_port"],
        "hb_port": info["hb_port"],
        "transport": transport,
        "ip": ip,
        "key": key,
        "signature_scheme": scheme,
    }
    for name in ("curve_publickey", "curve_secretkey"):  # CurveZMQ kernels
        value = info.get(name)
        if value is not None and not isinstance(value, str):
            raise _bad(path, f"has a {name} that is not a string")
        if value is not None:
            checked[name] = value  # type: ignore[literal-required]
    return checked


def _digest(scheme: str) -> Any:
    """The hash constructor a `hmac-NAME` scheme names, as jupyter_client's Session finds it
    (an attribute of hashlib), when it is one of DIGESTS; else None."""
    prefix, _, name = scheme.partition("-")
    if prefix != "hmac" or name not in DIGESTS:
        return None
    return getattr(hashlib, name, None)


def _bad(path: str, problem: str) -> CLIError:
    return CLIError(f"connection file {path} {problem}", status=2)


def _show(value: Any) -> str:
    """A value from the file, short and on one line."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 40 else text[:39] + "…"
