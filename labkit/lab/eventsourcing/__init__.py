"""Notebooks 04-05 (event sourcing, snapshots and replay): the Order 101 story, the replay slider, load and replay
measurements with their figures, and `labkit bench events` (side by side with the eventsourcing library)."""
