"""Free-port checks, so a taken port is reported before anything starts."""

from __future__ import annotations

import socket

# SeaweedFS opens a gRPC port beside each HTTP port, at this offset, unless told otherwise
GRPC_OFFSET = 10000


def port_is_free(port: int, *, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on ``host:port`` and we may bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def find_free_port(*, host: str = "127.0.0.1", exclude: set[int] | None = None) -> int:
    """A port that is free now (the OS picks it), not in ``exclude``, whose gRPC twin is free too."""
    exclude = exclude or set()
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        twin = port + GRPC_OFFSET
        if port in exclude or twin in exclude or twin > 65535:
            continue
        if port_is_free(twin, host=host):
            return port
    raise RuntimeError("could not find a free port")


def find_free_ports(count: int, *, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports, each with a free gRPC twin."""
    ports: list[int] = []
    for _ in range(count):
        taken = set(ports) | {p + GRPC_OFFSET for p in ports}
        ports.append(find_free_port(host=host, exclude=taken))
    return ports
