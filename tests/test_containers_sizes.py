"""Image sizes measured from real builds (notebook 10's example), and their figure."""

from __future__ import annotations

import pandas as pd
import pytest

from labkit.containers.baseimages import BUSYBOX, ensure_base_image
from labkit.containers.engine import connect_or_reason
from labkit.containers.sizes import build_example, measure_sizes, sizes_figure

PURPOSE = "sizes-test"


def test_figure_has_title_labels_and_a_bar_per_image() -> None:
    table = pd.DataFrame({"image": ["a", "b"], "size (MB)": [22.0, 2.0], "layers": [3, 2], "x smallest": [11.0, 1.0]})
    figure = sizes_figure(table, "sizes")
    axes = figure.axes[0]
    assert axes.get_title() == "sizes"
    assert "MB" in axes.get_xlabel() and axes.get_ylabel() == "image"
    assert len(axes.patches) == 2


@pytest.mark.docker
def test_the_runtime_stage_leaves_the_build_leftovers_behind() -> None:
    engine, reason = connect_or_reason()
    if engine is None:
        pytest.skip(f"needs a Docker engine: {reason}")
    try:
        ensure_base_image(engine, BUSYBOX.name)
        build = build_example(engine, target="build", purpose=PURPOSE)
        runtime = build_example(engine, target="runtime", purpose=PURPOSE)
        table = measure_sizes(engine, {"build": build.id, "runtime": runtime.id}).set_index("image")
        assert table.loc["build", "size (MB)"] > 20 > table.loc["runtime", "size (MB)"]
        assert table.loc["runtime", "x smallest"] == 1.0
        result = engine.run(runtime.id, purpose=PURPOSE)
        assert (result.exit_code, result.logs) == (0, "made in the build stage\n")
    finally:
        engine.cleanup(purpose=PURPOSE)
        engine.close()
