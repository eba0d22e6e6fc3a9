"""The synchronous JetStream client against a real NATS server: streams ensured or refused with the differing
settings named, publishes acknowledged with their sequence and de-duplicated by msg_id, one connection shared by
threads and usable where an event loop runs, and every kind of bad input (an unreachable broker, a message too
large, a subject no stream takes) refused with a LabkitError before anything is lost. The `broker` and `stream`
fixtures are in conftest.py; consumers are tested in test_jetstream_consumer.py."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import pytest

from labkit.errors import UsageError
from labkit.jetstream import (
    BrokerUnreachableError,
    JetStream,
    MessageTooLargeError,
    PublishError,
    SettingsMismatchError,
    StreamSettings,
    StreamState,
    UnknownStreamError,
)
from labkit.jetstream.server import binary
from labkit.localserver import free_port, port_is_free

# ---- streams ----------------------------------------------------------------------------------------------------


def test_an_existing_stream_with_the_same_settings_is_accepted(broker: JetStream, stream: StreamSettings) -> None:
    assert broker.ensure_stream(StreamSettings(stream.name, subjects=stream.subjects, duplicate_window=60)) is False
    assert broker.stream_state(stream.name).messages == 0


def test_an_existing_stream_with_other_settings_is_refused_naming_each_difference(
    broker: JetStream, stream: StreamSettings
) -> None:
    broker.publish(f"{stream.name}.kept", b"x")
    other = StreamSettings(stream.name, subjects=("elsewhere",), duplicate_window=30.0, storage="memory")
    with pytest.raises(SettingsMismatchError) as refused:
        broker.ensure_stream(other)
    message = str(refused.value)
    assert f"subjects is ['{stream.name}.>'] there, ['elsewhere'] here" in message
    assert "duplicate_window is 60.0 there, 30.0 here" in message
    assert "storage is 'file' there, 'memory' here" in message
    assert "delete_stream" in message and "max_age" not in message  # only what differs
    assert broker.stream_state(stream.name).messages == 1  # nothing changed, nothing lost
    assert broker.ensure_stream(stream) is False


def test_a_stream_the_broker_refuses_is_named_with_its_reason(broker: JetStream, stream: StreamSettings) -> None:
    with pytest.raises(UsageError, match="subjects overlap with an existing stream"):
        broker.ensure_stream(StreamSettings(f"{stream.name}X", subjects=(f"{stream.name}.a",)))


def test_every_stream_setting_reaches_the_broker(broker: JetStream, stream: StreamSettings) -> None:
    chosen = StreamSettings(
        f"{stream.name}W", subjects=(f"{stream.name}W.>",), duplicate_window=1.0, max_age=60.0, max_msg_size=512,
        storage="memory", retention="workqueue",
    )  # fmt: skip
    try:
        assert broker.ensure_stream(chosen) is True
        assert broker.ensure_stream(chosen) is False  # the broker holds exactly these: nothing differs
    finally:
        broker.delete_stream(chosen.name)


def test_delete_stream_says_whether_the_stream_existed(nats_url: str, stream: StreamSettings) -> None:
    with JetStream.connect(nats_url) as broker:
        assert broker.url == nats_url
        gone = StreamSettings(f"{stream.name}D", subjects=(f"{stream.name}D.>",))
        broker.ensure_stream(gone)
        assert broker.delete_stream(gone.name) is True
        assert broker.delete_stream(gone.name) is False
        with pytest.raises(UnknownStreamError):
            broker.stream_state(gone.name)


def test_a_stream_another_client_creates_meanwhile_is_compared_not_refused(
    broker: JetStream, stream: StreamSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked = broker._stream_config
    looks = iter([None])  # the first look finds nothing: another client creates it before this one does
    monkeypatch.setattr(broker, "_stream_config", lambda name: None if next(looks, True) is None else looked(name))
    with pytest.raises(SettingsMismatchError, match=r"duplicate_window is 60\.0 there, 30\.0 here"):
        broker.ensure_stream(StreamSettings(stream.name, subjects=stream.subjects, duplicate_window=30.0))


# ---- publishing -------------------------------------------------------------------------------------------------


def test_publish_returns_the_sequence_and_a_repeated_msg_id_is_a_duplicate(
    broker: JetStream, stream: StreamSettings
) -> None:
    first = broker.publish(f"{stream.name}.placed", b"101", msg_id="order-101")
    second = broker.publish(f"{stream.name}.placed", b"102", msg_id="order-102")
    again = broker.publish(f"{stream.name}.placed", b"101 again", msg_id="order-101")
    assert (first.stream, first.sequence, first.duplicate) == (stream.name, 1, False)
    assert (second.sequence, second.duplicate) == (2, False)
    assert (again.sequence, again.duplicate) == (1, True)  # where the first one is
    assert broker.publish(f"{stream.name}.placed", b"no id").sequence == 3  # no msg_id: never de-duplicated
    assert broker.stream_state(stream.name).messages == 3


def test_stream_state_counts_the_messages_and_gives_the_first_and_last_sequence(
    broker: JetStream, stream: StreamSettings
) -> None:
    assert broker.stream_state(stream.name) == StreamState(0, 0, 0)
    for n in range(3):
        broker.publish(f"{stream.name}.s", str(n).encode())
    assert broker.stream_state(stream.name) == StreamState(3, 1, 3)


def test_a_message_over_max_payload_is_refused_before_sending(broker: JetStream, stream: StreamSettings) -> None:
    assert broker.max_payload == 1024 * 1024  # the server's default
    with pytest.raises(MessageTooLargeError, match=r"1,048,577 bytes .* max_payload of 1,048,576 bytes"):
        broker.publish(f"{stream.name}.big", b"x" * (broker.max_payload + 1))
    # The headers count too: 'NATS/1.0' CRLF, 'Nats-Msg-Id: big' CRLF, CRLF is 30 bytes.
    with pytest.raises(MessageTooLargeError, match=r"1,048,606 bytes \(body and headers\)"):
        broker.publish(f"{stream.name}.big", b"x" * broker.max_payload, msg_id="big")
    fits = broker.publish(f"{stream.name}.big", b"x" * (broker.max_payload - 30), msg_id="big")
    assert (fits.sequence, fits.duplicate) == (1, False)  # the connection survived the refusals: nothing lost


def test_a_message_over_the_streams_max_msg_size_is_refused(broker: JetStream, stream: StreamSettings) -> None:
    small = StreamSettings(f"{stream.name}S", subjects=(f"{stream.name}S",), max_msg_size=100)
    broker.ensure_stream(small)
    try:
        with pytest.raises(MessageTooLargeError, match=r"101 bytes .* max_msg_size"):
            broker.publish(small.name, b"x" * 101)
        assert broker.stream_state(small.name).messages == 0
    finally:
        broker.delete_stream(small.name)


def test_a_subject_no_stream_takes_is_refused(broker: JetStream) -> None:
    with pytest.raises(PublishError, match=r"no stream takes subject nobody\.listens"):
        broker.publish("nobody.listens", b"x", msg_id="lost?")


def test_a_publish_the_stream_refuses_names_its_subject_and_the_brokers_reason(
    broker: JetStream, stream: StreamSettings
) -> None:
    broker.publish(f"{stream.name}.x", b"1")
    # An optimistic publish: only if the stream's last sequence is 5 (it is 1), so the stream refuses it.
    with pytest.raises(PublishError) as refused:
        broker.publish(f"{stream.name}.x", b"2", headers={"Nats-Expected-Last-Sequence": "5"})
    assert type(refused.value) is PublishError
    assert f"{stream.name}.x" in str(refused.value) and "wrong last sequence: 1" in str(refused.value)
    assert broker.stream_state(stream.name).messages == 1


def test_data_that_is_not_bytes_is_refused(broker: JetStream, stream: StreamSettings) -> None:
    with pytest.raises(UsageError, match="data must be bytes, not str"):
        broker.publish(f"{stream.name}.x", "text")  # type: ignore[arg-type]


def test_one_connection_serves_several_threads(broker: JetStream, stream: StreamSettings) -> None:
    acks: list[int] = []

    def publish(start: int) -> None:
        acks.extend(
            broker.publish(f"{stream.name}.t", b"x", msg_id=f"t-{n}").sequence for n in range(start, start + 50)
        )

    threads = [threading.Thread(target=publish, args=(n * 50,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(acks) == list(range(1, 201))


def test_it_works_where_an_event_loop_already_runs_as_in_a_notebook(nats_url: str, stream: StreamSettings) -> None:
    async def notebook_cell() -> int:
        with JetStream.connect(nats_url) as broker:
            return broker.publish(f"{stream.name}.cell", b"x", msg_id="cell").sequence

    # The kernel's loop runs in a thread of its own here: the test's main thread may already be inside another loop
    # (the session's Playwright browser keeps one running), where asyncio.run itself would refuse to start.
    answers: list[int] = []
    kernel = threading.Thread(target=lambda: answers.append(asyncio.run(notebook_cell())))
    kernel.start()
    kernel.join(timeout=30)
    assert answers == [1]


# ---- reaching the broker ----------------------------------------------------------------------------------------


def test_an_unreachable_broker_is_named_with_how_to_fix() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(BrokerUnreachableError, match=rf"no NATS server answers at {url} within 0.5 s: .*broker up"):
        JetStream.connect(url, timeout=0.5)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:4222", "nats://127.0.0.1", "nats://:4222", "127.0.0.1:4222", "nats://127.0.0.1:99999"]
)
def test_a_malformed_url_is_a_usage_error(url: str) -> None:
    with pytest.raises(UsageError, match="is not a NATS URL"):
        JetStream.connect(url)


def test_a_tls_url_is_a_nats_url_tried_as_such() -> None:
    url = f"tls://127.0.0.1:{free_port()}"
    with pytest.raises(BrokerUnreachableError, match=f"no NATS server answers at {url}"):
        JetStream.connect(url, timeout=0.3)


def test_a_connection_left_open_does_not_keep_its_program_from_exiting(nats_url: str) -> None:
    # The loop's thread is a daemon: a notebook or script that forgets close() still ends.
    forgetful = "import sys; from labkit.jetstream import JetStream; JetStream.connect(sys.argv[1])"
    finished = subprocess.run([sys.executable, "-c", forgetful, nats_url], capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr


def test_a_closed_connection_says_so(nats_url: str) -> None:
    broker = JetStream.connect(nats_url)
    broker.close()
    broker.close()  # twice is harmless
    with pytest.raises(BrokerUnreachableError, match="is closed: connect again"):
        broker.stream_state("ANY")


def test_a_server_without_jetstream_is_named() -> None:
    port = free_port()
    plain = subprocess.Popen(
        [str(binary()), "-a", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while port_is_free(port) and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(BrokerUnreachableError, match=r"runs without JetStream: start it with JetStream on"):
            JetStream.connect(f"nats://127.0.0.1:{port}")
    finally:
        plain.kill()
        plain.wait()
