"""Per-job event log with sequence numbers, so a reconnecting client misses nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from underpaint.wire.messages import JobEvent, Preview, Progress


@dataclass(frozen=True)
class Event:
    """One protocol message and the binary frames that follow it on the wire."""

    seq: int
    message: JobEvent
    frames: tuple[bytes, ...] = ()


Subscriber = Callable[[Event], None]
MessageFactory = Callable[[int], JobEvent]


@dataclass
class EventLog:
    """Lives on the event loop thread: append and subscribe never interleave."""

    events: list[Event] = field(default_factory=list)
    subscribers: list[Subscriber] = field(default_factory=list)

    @property
    def last_seq(self) -> int:
        return self.events[-1].seq if self.events else 0

    def append(self, make: MessageFactory, frames: tuple[bytes, ...] = ()) -> Event:
        event = Event(self.last_seq + 1, make(self.last_seq + 1), frames)
        self.events.append(event)
        for subscriber in list(self.subscribers):
            subscriber(event)
        return event

    def replay_and_subscribe(self, after_seq: int, subscriber: Subscriber) -> None:
        for event in self.events:
            if event.seq > after_seq:
                subscriber(event)
        if subscriber not in self.subscribers:
            self.subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self.subscribers:
            self.subscribers.remove(subscriber)

    def drop_pixels(self) -> None:
        """Forget the pixel-carrying events of an old job; its files stay downloadable."""
        self.events = [e for e in self.events if not e.frames]


class EventArchive:
    """A subscriber that hands a job's events to `write` (the history), so they outlive the agent.

    Progress waits for the next other event and goes out in one batch with it: a job's steps cost
    one write per variant, not one each. Previews are not kept: their pixels are on no disk, and a
    replay without them only skips their seq numbers. Results are kept as messages; their pixels
    come back from the job's files.
    """

    def __init__(self, write: Callable[[list[JobEvent]], None]) -> None:
        self._write = write
        self._pending: list[JobEvent] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event.message, Preview):
            return
        self._pending.append(event.message)
        if not isinstance(event.message, Progress):
            batch, self._pending = self._pending, []
            self._write(batch)
