"""The examples in the docstrings of labkit.patterns run and stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["labkit.patterns.idempotent_consumer", "labkit.patterns.faults", "labkit.patterns.commands"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
