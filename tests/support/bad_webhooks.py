"""Webhooks that misbehave, on loopback: one answers garbage, one drips a byte at a time forever."""

from __future__ import annotations

import socket
import threading
import time


class BadWebhook:
    """`mode`: "garbage" answers bytes that are no HTTP; "drip" starts a response and sends one
    more byte every `every` seconds, never finishing its headers (a per-read timeout never fires)."""

    def __init__(self, mode: str, every: float = 1.0) -> None:
        self.mode, self.every = mode, every
        self.requests = 0
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/panro"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        self.requests += 1
        try:
            conn.settimeout(5)
            conn.recv(65536)
            if self.mode == "garbage":
                conn.sendall(b"\x00\xffthis is not HTTP at all\r\n\r\n")
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not self._stop.is_set():
                conn.sendall(b"X")
                time.sleep(self.every)
        except OSError:
            pass
        finally:
            conn.close()

    def __enter__(self) -> BadWebhook:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
