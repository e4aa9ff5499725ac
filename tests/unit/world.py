"""An in-memory AWS for engine tests: the fakes keyturn ships, on a manual clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from keyturn.engine import Rotator
from keyturn.memory import InMemoryIam, InMemorySecrets, ManualClock, RecordingNotifier
from keyturn.settings import Settings


@dataclass
class World:
    clock: ManualClock = field(default_factory=ManualClock)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    secrets: InMemorySecrets = field(default_factory=InMemorySecrets)
    settings: Settings = field(default_factory=Settings)
    iam: InMemoryIam = field(init=False)

    def __post_init__(self) -> None:
        self.iam = InMemoryIam(self.clock)

    def rotator(self, settings: Settings | None = None) -> Rotator:
        return Rotator(
            self.iam, self.iam, self.secrets, self.notifier, self.clock, settings or self.settings
        )

    def key_ids(self, user: str) -> list[str]:
        return [k.key_id for k in self.iam.keys[user]]

    def current(self, user: str) -> str | None:
        state = self.secrets.read_state(user)
        return state.current_key_id if state else None
