"""`keyturn demo` as a newcomer runs it: its own emulator, in a fresh process, no AWS account."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_tells_the_whole_story() -> None:
    script = Path(sys.executable).with_name("keyturn")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [str(script), "demo"], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    out = done.stdout
    for chapter in (
        "0. the world",
        "1. scan",
        "2. run",
        "3. the new key",
        "4. what ops",
        "8 days later",
        "15 days later",
    ):
        assert chapter in out
    assert "new key AKIA..." in out
    assert "deactivate AKIA..." in out
    assert "delete AKIA..." in out
    assert "never printed" in out
    assert '"Event": "rotated"' in out
    assert "two active keys" in out
    assert "SecretAccessKey=<40 characters" in out
    assert '"SecretAccessKey"' not in out
