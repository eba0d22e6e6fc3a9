"""Notebooks 03 and 06 (dual writes, idempotent consumers, CQRS projections): consumers side by side, projection lag
while writes go on, the fault sweep's figures, the pause/resume control, and `labkit bench projections`."""
