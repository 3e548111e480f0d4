"""Loaded into a test subprocess via PYTHONPATH: records and refuses non-loopback connections.

Every `socket.connect` / `connect_ex` to an address outside 127.0.0.0/8, ::1 and Unix
sockets is written to $NET_GUARD_LOG and refused, so a test can prove that a process
stays on loopback. Once the guard is in place, the process writes its pid to
$NET_GUARD_LOG.armed, so a test can prove that the guard is live in the process it tests.
"""

import ipaddress
import os
import socket

_LOG = os.environ.get("NET_GUARD_LOG")
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _outside(address):
    if not isinstance(address, tuple):
        return False  # Unix socket path
    host = address[0]
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host != "localhost"


def _record(address):
    if _LOG:
        with open(_LOG, "a") as f:
            f.write(f"{address!r}\n")
    raise ConnectionRefusedError(f"net_guard: connection to {address!r} refused")


def connect(self, address):
    if _outside(address):
        _record(address)
    return _real_connect(self, address)


def connect_ex(self, address):
    if _outside(address):
        _record(address)
    return _real_connect_ex(self, address)


if _LOG:
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    if socket.socket.connect is connect and socket.socket.connect_ex is connect_ex:
        with open(_LOG + ".armed", "a") as armed:
            armed.write(f"{os.getpid()}\n")
