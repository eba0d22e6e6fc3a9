"""The broker of a run whose services talk over NATS: the run's own server, or the one in $LABKIT_NATS_URL.

The run's own server lives in `<run folder>/nats` (started with the services, stopped with them, killed and
restarted on the same port by fault experiments). A server the user names is shared: the run then gets a namespace
of its own on it, derived from its folder, so its streams never meet another run's; labkit neither starts nor stops it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from labkit.errors import LabkitError
from labkit.jetstream import URL_VARIABLE, JetStream, NatsServer
from labkit.services.errors import RunFolderError
from labkit.services.settings import PEERS
from labkit.services.transport import DEFAULT_NAMESPACE, check_namespace, durable_name, event_stream


@dataclass(frozen=True)
class RunBroker:
    """A run's broker: `server_folder` is the run's own server (None: the user's, at `url`)."""

    url: str
    namespace: str = DEFAULT_NAMESPACE
    server_folder: str | None = None

    @classmethod
    def create(cls, folder: Path) -> RunBroker:
        """Start the run's own server (or take $LABKIT_NATS_URL's, with a namespace of the run's own)."""
        named = os.environ.get(URL_VARIABLE)
        if named:
            # Refused here, in one line, before any service starts: not services running with their broker down.
            JetStream.connect(named, name="labkit up").close()
            return cls(named, "run_" + hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:12])
        server = NatsServer(folder / "nats").up()
        return cls(server.url(), DEFAULT_NAMESPACE, str(server.folder))

    @classmethod
    def from_record(cls, record: object) -> RunBroker:
        """The broker as run.json records it; RunFolderError when the entry is not one."""
        if not isinstance(record, dict) or set(record) != {"url", "namespace", "server_folder"}:
            raise RunFolderError(f"run.json's broker entry {str(record)[:80]!r} is not a run broker record")
        url, namespace, server_folder = record["url"], record["namespace"], record["server_folder"]
        if not isinstance(url, str) or not isinstance(namespace, str) or not isinstance(server_folder, str | None):
            raise RunFolderError(f"run.json's broker entry {str(record)[:80]!r} is not a run broker record")
        try:
            check_namespace(namespace)
        except Exception as exc:
            raise RunFolderError(f"run.json's broker entry: {exc}") from None
        return cls(url, namespace, server_folder)

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def server(self) -> NatsServer | None:
        """The run's own server (None when the broker is the user's)."""
        return NatsServer(self.server_folder) if self.server_folder is not None else None

    def unacked(self, readers: tuple[str, ...]) -> int:
        """Messages the broker delivered to `readers`' durable consumers that they have not acked yet (work in
        flight: what a crash of those readers would get redelivered)."""
        with JetStream.connect(self.url, name="labkit unacked") as broker:
            total = 0
            for reader in readers:
                for peer in PEERS[reader]:
                    try:
                        state = broker.consumer_state(
                            event_stream(peer, self.namespace).name, durable_name(reader, peer)
                        )
                    except LabkitError:  # not created yet: nothing was delivered through it
                        continue
                    total += state.num_ack_pending
            return total

    def kill(self) -> None:
        """kill -9 the run's own server (a crash, for fault experiments)."""
        self._own().kill()

    def restart(self) -> None:
        """Start the run's own server again: the same store, on the same port, so clients reconnect by themselves."""
        server = self._own()
        port = server.recorded_port()
        server.up(port=port)

    def stop(self) -> None:
        """Stop the run's own server (a user's server is left running)."""
        if self.server is not None:
            self.server.down()

    def _own(self) -> NatsServer:
        if self.server is None:
            raise RunFolderError(
                f"the run's broker is yours ({self.url}, from ${URL_VARIABLE}): labkit does not kill or restart it"
            )
        return self.server
