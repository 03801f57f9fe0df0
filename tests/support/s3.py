"""A real S3-compatible server on 127.0.0.1: moto in server mode, in a process of its own.

`S3Server.start()` starts it on a port the OS picks and waits until it answers; `stop()` ends it. Its
request log (one line per HTTP request, werkzeug's) is how the tests and the benchmark count what a
run asks of the store. `env` holds what an AWS client of this server needs — the way AWS tools take
credentials and an endpoint (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL`), with
no AWS configuration of the machine's own in the way — and a secret key unique to the server, so a
test can look for it everywhere a run writes. The benchmark imports this module too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

_RUNNING = re.compile(r"Running on (http://127\.0\.0\.1:\d+)")
_REQUEST = re.compile(r'"(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')


@dataclass
class S3Server:
    endpoint: str
    log: Path
    process: subprocess.Popen[bytes]
    secret: str = field(default_factory=lambda: f"panro-secret-{uuid.uuid4().hex}")
    key_id: str = "panrotestkey"

    @classmethod
    def start(cls, workdir: Path | None = None, timeout: float = 60.0) -> S3Server:
        workdir = workdir or Path(tempfile.mkdtemp(prefix="panro-moto-"))
        log = workdir / "moto.log"
        out = log.open("wb")
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = _RUNNING.search(log.read_text(errors="replace"))
            if m:
                server = cls(m.group(1), log, process)
                try:
                    server._wait_until_answering(deadline)
                except BaseException:
                    server.stop()
                    raise
                return server
            if process.poll() is not None:
                raise RuntimeError(f"moto server exited: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        process.kill()
        raise RuntimeError("moto server did not start in time")

    def _wait_until_answering(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"moto server at {self.endpoint} does not answer")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def env(self) -> dict[str, str]:
        """The environment of an AWS client of this server (and of nothing else)."""
        nowhere = str(self.log.parent / "no-aws-config")
        return {"AWS_ACCESS_KEY_ID": self.key_id, "AWS_SECRET_ACCESS_KEY": self.secret,
                "AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": nowhere, "AWS_SHARED_CREDENTIALS_FILE": nowhere,
                "AWS_EC2_METADATA_DISABLED": "true"}

    def client_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """`base` (default: this process's environment) without any AWS setting of its own, plus `env`."""
        values = {k: v for k, v in (base if base is not None else os.environ).items() if not k.startswith("AWS_")}
        return {**values, **self.env}

    def fs(self):
        """A client of this server for the tests' own setup and checks (given its keys explicitly)."""
        import s3fs

        return s3fs.S3FileSystem(key=self.key_id, secret=self.secret, use_listings_cache=False,
                                 skip_instance_cache=True, client_kwargs={"endpoint_url": self.endpoint,
                                                                          "region_name": "us-east-1"})

    def bucket(self, name: str | None = None) -> str:
        """A new, empty bucket: its name."""
        name = name or f"panro-{uuid.uuid4().hex[:12]}"
        self.fs().call_s3("create_bucket", Bucket=name)
        return name

    def requests(self) -> list[tuple[str, str, int]]:
        """Every request the server answered so far: (method, path and query, status)."""
        text = self.log.read_text(errors="replace")
        return [(m.group(1), m.group(2), int(m.group(3))) for m in _REQUEST.finditer(text)]

    def count(self, since: int = 0) -> Counter[str]:
        """Requests answered after the first `since`, by method (and 'total')."""
        found = self.requests()[since:]
        counts = Counter(method for method, path, _ in found if not path.startswith("/moto-api"))
        counts["total"] = sum(counts.values())
        return counts


@contextmanager
def s3_server(workdir: Path | None = None) -> Iterator[S3Server]:
    server = S3Server.start(workdir)
    try:
        yield server
    finally:
        server.stop()


def upload(server: S3Server, folder: Path, url: str) -> int:
    """Put every file under `folder` at the same relative path under `url` (s3://bucket/prefix): the
    partners' uploads. Returns the number of files."""
    fs = server.fs()
    base = url.removeprefix("s3://").rstrip("/")
    n = 0
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            fs.pipe_file(f"{base}/{path.relative_to(folder).as_posix()}", path.read_bytes())
            n += 1
    return n


def objects(server: S3Server, url: str) -> dict[str, bytes]:
    """Every object under `url`, by its key below it, with its bytes."""
    fs = server.fs()
    base = url.removeprefix("s3://").rstrip("/")
    return {p[len(base) + 1:]: fs.cat_file(p) for p in fs.find(base)}
