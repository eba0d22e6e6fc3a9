"""The examples in the docstrings of labkit.events, labkit.domain and labkit.workload run and stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "labkit.events.event",
    "labkit.events.store",
    "labkit.events.aggregate",
    "labkit.events.repository",
    "labkit.events.subscriptions",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
