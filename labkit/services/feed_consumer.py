"""Feed consumers: a thread per peer feed that pulls the events after its checkpoint and applies them with it.

Long polling (`labkit.services.feed`): the pull waits at the peer until an event follows the checkpoint, so a new
event arrives within milliseconds without a loop of empty polls. Nothing is ever redelivered: a restarted consumer
simply pulls again after the checkpoint its last commit saved.
"""

from __future__ import annotations

from labkit.services.database import ServiceDatabase
from labkit.services.feed import HttpEventFeed
from labkit.services.peer_consumer import PeerConsumer, UnitHandler


class FeedConsumer(PeerConsumer):
    """Pulls one peer's feed and applies each batch, with its checkpoint, in one transaction of `database`."""

    transport = "http"

    def __init__(
        self,
        name: str,
        feed: HttpEventFeed,
        database: ServiceDatabase,
        handler: UnitHandler,
        *,
        batch_size: int = 500,
        poll_timeout: float = 10.0,
    ) -> None:
        super().__init__(name, database, handler)
        self.feed, self.batch_size, self.poll_timeout = feed, batch_size, poll_timeout

    def source(self) -> str:
        return self.feed.base_url

    def receive_once(self) -> None:
        # After a failure, ask without waiting first, so the status shows the peer back at once.
        wait = self.poll_timeout if self.connected else 0.0
        page = self.feed.read(after_position=self.position, limit=self.batch_size, wait=wait)
        self.connected, self.last_error = True, None
        self.peer_head = max(page.head_position, self.peer_head)
        if page.events and not self._stop.is_set():
            self.database.write_and_wait(lambda unit, events=page.events: self.apply(events, unit))
            self.position = page.events[-1].position
            self.handled += len(page.events)
