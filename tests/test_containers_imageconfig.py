"""An image's Config as a value, to and from `docker image inspect`'s JSON."""

from __future__ import annotations

from labkit.containers.imageconfig import Healthcheck, ImageConfig, normalized_inspect

INSPECTED = {
    "Hostname": "",
    "Env": ["PATH=/usr/bin", "A=1=2"],
    "Cmd": ["sh"],
    "Entrypoint": None,
    "WorkingDir": "/srv",
    "User": "",
    "ExposedPorts": {"80/tcp": {}, "443/udp": {}},
    "Volumes": None,
    "Labels": {"k": "v"},
    "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 5000000000},
    "OnBuild": [],
}


def test_round_trip_through_docker_inspect_shape() -> None:
    config = ImageConfig.from_inspect(INSPECTED)
    assert config.env_map == {"PATH": "/usr/bin", "A": "1=2"}
    assert config.exposed_ports == ("443/udp", "80/tcp")
    assert config.healthcheck == Healthcheck(("CMD-SHELL", "true"), interval_ns=5_000_000_000)
    assert config.to_inspect() == normalized_inspect(INSPECTED)


def test_empty_values_are_none_like_dockers_nulls_but_an_explicit_empty_cmd_stays_a_list() -> None:
    assert ImageConfig.from_inspect({"Entrypoint": [], "Labels": {}}).to_inspect()["Entrypoint"] is None
    assert ImageConfig.from_inspect({"Cmd": [], "Entrypoint": None}).to_inspect()["Cmd"] == []
    assert ImageConfig.from_inspect({"Cmd": None}).to_inspect()["Cmd"] is None
    assert normalized_inspect(None)["Env"] is None
    assert ImageConfig().effective_shell == ("/bin/sh", "-c")
    assert ImageConfig(shell=("/bin/bash", "-c")).effective_shell == ("/bin/bash", "-c")
