"""The CLI in a real terminal: tmux at 80 columns, against the embedded emulator.

A person at a terminal sees long user names folded (never cut to ``svc-…``), a progress bar on
stderr while the command works, and a one-line summary at the end; ``--output json`` and piped
output never carry the bar. tmux comes from ``make test-setup``; outside CI the terminal tests
are skipped where it is missing, in CI they fail.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from keyturn.emulator import EmbeddedAws
from tests.integration.helpers import make_user

TMUX = shutil.which("tmux")
KEYTURN = Path(sys.executable).with_name("keyturn")
LONG_NAME = "svc-payments-reconciliation-nightly-batch"
MANAGED = {"keyturn:managed": "true"}
BAR_LABELS = ("scanning users", "running users")
needs_tmux = pytest.mark.skipif(
    TMUX is None and not os.environ.get("CI"),
    reason="tmux is not installed (`make test-setup` installs it); never skipped in CI",
)


class Terminal:
    """An 80x40 tmux window of a tmux server of its own, running a plain shell pointed at the
    emulator; everything the window receives is also copied to ``raw`` (pipe-pane), so that
    a bar drawn and then erased is still seen."""

    def __init__(self, socket: Path, raw: Path, aws: EmbeddedAws) -> None:
        if TMUX is None:
            pytest.fail("tmux is not installed; `make test-setup` installs it")
        self.socket, self.raw = socket, raw
        shell = {
            "PS1": "",
            "PATH": f"{KEYTURN.parent}{os.pathsep}{os.environ['PATH']}",
            "AWS_ENDPOINT_URL": aws.url,
            "AWS_REGION": aws.region,
        }
        command = " ".join(["env", *(f"{k}={shlex.quote(v)}" for k, v in shell.items()), "sh"])
        self.tmux("new-session", "-d", "-x", "80", "-y", "40", "-s", "t", command)
        self.tmux("pipe-pane", "-t", "t", "-o", f"cat >> {shlex.quote(str(raw))}")

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            [str(TMUX), "-S", str(self.socket), "-f", os.devnull, *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return done.stdout

    def run(self, command: str) -> str:
        """Type ``command`` on a cleared screen, wait until it ends; return the screen."""
        self.tmux("send-keys", "-t", "t", f"clear; {command}; tmux wait-for -S done", "Enter")
        self.tmux("wait-for", "done")
        return self.tmux("capture-pane", "-p", "-t", "t")

    def close(self) -> None:
        self.tmux("kill-server")


@pytest.fixture
def terminal(aws: EmbeddedAws, tmp_path: Path) -> Iterator[Terminal]:
    opened = Terminal(tmp_path / "tmux.sock", tmp_path / "raw.log", aws)
    yield opened
    opened.close()


def first_column(screen: str) -> str:
    """The table's first column, its folded pieces joined in order."""
    cells = [line.split("│")[1].strip() for line in screen.splitlines() if line.count("│") > 2]
    return "".join(cells)


@needs_tmux
def test_at_80_columns_names_fold_and_every_command_ends_with_its_summary(
    aws: EmbeddedAws, terminal: Terminal
) -> None:
    # GIVEN a user whose name is wider than its column at 80 columns, due for rotation
    make_user(aws, LONG_NAME, key_ages=(85,), tags=MANAGED)
    make_user(aws, "app", key_ages=(10,), tags=MANAGED)
    # WHEN a person scans, then runs, in an 80-column terminal
    scan = terminal.run("keyturn scan")
    run = terminal.run("keyturn run")
    # THEN the name is folded onto further lines, whole, in both tables
    for screen in (scan, run):
        assert "…" not in screen
        assert LONG_NAME not in screen, "at 80 columns the name does not fit on one line"
        assert LONG_NAME in first_column(screen)
        assert all(len(line) <= 80 for line in screen.splitlines())
    # AND each ends with its one-line summary
    summaries = [line for line in scan.splitlines() if line.endswith("(2 users)")]
    assert summaries == [
        "0 changed, 0 refused, 0 failed, 0 deferred, 1 unchanged, 1 planned (2 users)"
    ]
    # (the run looks only at the users the credential report shows as possibly due)
    assert (
        "1 changed, 0 refused, 0 failed, 0 deferred, 0 unchanged "
        "(1 user; 1 more idle in the credential report)"
    ) in run.replace("\n", " ").replace("  ", " ")
    # AND the progress bar was drawn on the terminal while each worked (then erased)
    raw = terminal.raw.read_text(encoding="utf-8", errors="replace")
    assert all(label in raw for label in BAR_LABELS)
    assert not any(label in scan or label in run for label in BAR_LABELS)


@needs_tmux
def test_json_output_in_a_terminal_never_draws_the_bar(
    aws: EmbeddedAws, terminal: Terminal
) -> None:
    make_user(aws, LONG_NAME, key_ages=(85,), tags=MANAGED)
    screen = terminal.run("keyturn --output json scan")
    assert '"UserName": "svc-payments-reconciliation-nightly-batch"' in screen
    raw = terminal.raw.read_text(encoding="utf-8", errors="replace")
    assert not any(label in raw for label in BAR_LABELS)
    assert "0 changed" not in raw, "the JSON is the whole output"


def test_piped_output_has_the_summary_and_no_bar(aws: EmbeddedAws) -> None:
    make_user(aws, LONG_NAME, key_ages=(85,), tags=MANAGED)
    done = subprocess.run(
        [str(KEYTURN), "--endpoint-url", aws.url, "--region", aws.region, "scan"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stderr == ""
    assert done.stdout.rstrip().splitlines()[-1] == (
        "0 changed, 0 refused, 0 failed, 0 deferred, 0 unchanged, 1 planned (1 user)"
    )
    assert LONG_NAME in first_column(done.stdout)
