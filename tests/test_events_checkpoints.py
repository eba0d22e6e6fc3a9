"""Checkpoints: a subscriber's last committed position, kept in its own database with the time it moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import duckdb

from labkit.events import create_checkpoints_table, read_checkpoint, save_checkpoint


def rows(connection) -> list[tuple]:
    return connection.execute("SELECT * FROM subscription_checkpoints ORDER BY subscription").fetchall()


def test_a_checkpoint_is_zero_until_saved_then_moves_and_records_when_in_utc():
    connection = duckdb.connect(":memory:")
    create_checkpoints_table(connection)
    create_checkpoints_table(connection)  # again: harmless
    assert read_checkpoint(connection, "reader") == 0
    paris = datetime(2025, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    save_checkpoint(connection, "reader", 7, at=paris)
    save_checkpoint(connection, "other", 1, at=datetime(2025, 3, 1, 9, 0))  # naive: UTC already
    assert rows(connection) == [("other", 1, datetime(2025, 3, 1, 9, 0)), ("reader", 7, datetime(2025, 3, 1, 12, 30))]
    save_checkpoint(connection, "reader", 9, at=paris + timedelta(minutes=1))
    assert (read_checkpoint(connection, "reader"), read_checkpoint(connection, "other")) == (9, 1)
    assert rows(connection)[1] == ("reader", 9, datetime(2025, 3, 1, 12, 31))


def test_a_checkpoint_saved_without_a_time_records_now_in_utc():
    connection = duckdb.connect(":memory:")
    create_checkpoints_table(connection)
    before = datetime.now(UTC).replace(tzinfo=None)
    save_checkpoint(connection, "reader", 3)
    after = datetime.now(UTC).replace(tzinfo=None)
    ((_, position, updated_at),) = rows(connection)
    assert position == 3 and before <= updated_at <= after


def test_checkpoints_work_through_a_cursor_inside_the_callers_transaction():
    connection = duckdb.connect(":memory:")
    cursor = connection.cursor()
    create_checkpoints_table(cursor)
    cursor.execute("BEGIN TRANSACTION")
    save_checkpoint(cursor, "reader", 4, at=datetime(2025, 1, 1))
    assert read_checkpoint(cursor, "reader") == 4
    cursor.execute("ROLLBACK")
    assert read_checkpoint(connection, "reader") == 0
