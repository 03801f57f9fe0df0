"""README's "Partners upload to a bucket" works as written: its shell block, pasted into bash in a folder
laid out as the repository after `make setup` (`.venv`), with its port and its /tmp paths made the
test's own (another run may hold port 5024), starts an S3-compatible server, uploads three days of
partner files to it and backfills them from the bucket into the bucket."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from panro.settings import REPO_ROOT

pytestmark = pytest.mark.slow


def bucket_block() -> str:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Partners upload to a bucket", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    [block] = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return block


def test_the_bucket_example_backfills_from_the_bucket_into_the_bucket(tmp_path: Path) -> None:
    block = bucket_block()
    assert "--landing s3://" in block and "--lake s3://" in block and "AWS_ENDPOINT_URL=" in block
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = block.replace("5024", str(port)).replace("/tmp/", f"{tmp_path}/")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    env = {k: v for k, v in os.environ.items()     # but the run's dbt parse (conftest), which the README does not set
           if not k.startswith(("PANRO_", "AWS_", "PREFECT_API")) or k == "PANRO_DBT_PARSE_CACHE"}
    shell = subprocess.Popen(["bash", "-c", script], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = shell.communicate(timeout=900)
    finally:
        with contextlib.suppress(ProcessLookupError):   # the block leaves its server running, as a shell would
            os.killpg(shell.pid, signal.SIGTERM)
    assert shell.returncode == 0, err[-3000:]
    assert "backfill 2023-05-01 … 2023-05-03: 36 batches, 25,204 rows delivered, 25,204 published" in out
    assert "nothing is held back" in out
    assert "not-a-real-secret" not in out + err
    assert not (tmp_path / "panro-s3" / "raw").exists() and (tmp_path / "panro-s3" / "warehouse").exists()
