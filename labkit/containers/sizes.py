"""Image sizes measured from real builds, side by side, and the figure notebook 10 draws from them."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from labkit.containers.engine import BuiltImage, Engine
from labkit.containers.prebuild import build_checked
from labkit.paths import repo_root

EXAMPLES = "docker/examples"
MULTISTAGE_EXAMPLE = "multistage.Dockerfile"


def build_example(engine: Engine, *, target: str, purpose: str, dockerfile: str = MULTISTAGE_EXAMPLE) -> BuiltImage:
    """Build one stage of an example Dockerfile from docker/examples/ (its folder is the build context)."""
    return build_checked(
        engine,
        repo_root() / EXAMPLES,
        dockerfile=dockerfile,
        tag=f"labkit-example/{dockerfile.split('.')[0]}:{target}",
        target=target,
        purpose=purpose,
        progress=False,
    )


def measure_sizes(engine: Engine, images: Mapping[str, str]) -> pd.DataFrame:
    """Size (MB) and layer count of each image, measured on the engine, and each size relative to the smallest."""
    rows = []
    for label, reference in images.items():
        inspected = engine.image_inspect(reference) or {}
        rows.append(
            (label, int(inspected.get("Size", 0)) / 1e6, len((inspected.get("RootFS") or {}).get("Layers", [])))
        )
    table = pd.DataFrame(rows, columns=["image", "size (MB)", "layers"])
    table["x smallest"] = (table["size (MB)"] / table["size (MB)"].min()).round(1)
    table["size (MB)"] = table["size (MB)"].round(1)
    return table


def sizes_figure(table: pd.DataFrame, title: str) -> Figure:
    """A horizontal bar per image: its measured size in MB."""
    figure, axes = plt.subplots(figsize=(7, 0.6 + 0.5 * len(table)))
    axes.barh(table["image"], table["size (MB)"], color="#4c72b0")
    for y, size in enumerate(table["size (MB)"]):
        axes.annotate(f"{size:.1f} MB", (size, y), xytext=(4, 0), textcoords="offset points", va="center")
    axes.set_title(title)
    axes.set_xlabel("image size (MB, as `docker image ls` reports)")
    axes.set_ylabel("image")
    axes.invert_yaxis()
    axes.set_xlim(0, table["size (MB)"].max() * 1.25)
    figure.tight_layout()
    return figure
