import socket

import pytest


def test_a_test_cannot_reach_beyond_loopback() -> None:
    with pytest.raises(OSError, match="only loopback"):
        socket.create_connection(("203.0.113.7", 443), timeout=1)


def test_loopback_is_allowed() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    with server, socket.create_connection(server.getsockname(), timeout=1):
        pass
