"""Wheelhouses for the lab's images: every Python package an image needs, as wheels, built on the host.

Images install with `pip install --no-index --find-links /wheelhouse`: nothing is fetched inside a build (HTTPS
from containers fails here, and an offline wheelhouse is also the reproducible way). Versions come from this
environment, which `make` installs from requirements.lock, so an image runs exactly what the tests ran.

What the services need is found, not listed by hand: the labkit modules a service process can reach from
`python -m labkit.services` are read (their import statements, lazy ones included), and the distributions those
imports come from, plus everything they require, are the set.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata as metadata
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from labkit.containers.errors import WheelhouseError
from labkit.paths import repo_root

REQUIREMENTS_FILE = "requirements.txt"
STAMP_FILE = "wheelhouse.json"
SERVICE_ENTRY = "labkit.services.__main__"


def _module_file(name: str) -> Path | None:
    """The source file of a labkit module (a package's __init__.py), or None if there is none."""
    base = repo_root() / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, module: str) -> set[str]:
    """Every module `path` imports, at the top or inside functions (lazy imports count: they run later)."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{node.module}" if node.module else anchor
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def imported_distributions(entry: str = SERVICE_ENTRY) -> list[str]:
    """Third-party distributions the code reachable from `entry` imports (labkit's own modules followed, by AST).

    Only what a running service can reach counts: notebook helpers in the same package (plots) stay out.
    """
    seen: set[str] = set()
    third_party: set[str] = set()
    pending = [entry]
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        path = _module_file(module)
        if path is None:
            continue
        for name in _imports(path, module):
            top = name.split(".")[0]
            if top == "labkit":
                # `from labkit.x import y` may name a module or an attribute: follow whichever exists.
                parts = name.split(".")
                pending.extend(".".join(parts[:i]) for i in range(2, len(parts) + 1))
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    mapping = metadata.packages_distributions()
    missing = sorted(top for top in third_party if top not in mapping)
    if missing:
        raise WheelhouseError(f"{entry} imports {', '.join(missing)}, which no installed distribution provides")
    return sorted({dist for top in third_party for dist in mapping[top]})


def _requirements_closure(names: list[str]) -> dict[str, str]:
    """`{distribution: installed version}` for `names` (requirement strings: extras count) and everything they
    require (markers evaluated, with the extras asked for)."""
    pinned: dict[str, str] = {}
    done: set[tuple[str, frozenset[str]]] = set()
    pending = [Requirement(name) for name in names]
    while pending:
        wanted = pending.pop()
        key = canonicalize_name(wanted.name)
        if (key, frozenset(wanted.extras)) in done:
            continue
        done.add((key, frozenset(wanted.extras)))
        try:
            dist = metadata.distribution(wanted.name)
        except metadata.PackageNotFoundError:
            raise WheelhouseError(
                f"{wanted.name} is required but not installed; run `make` to install the lock"
            ) from None
        pinned[key] = dist.version
        for raw in dist.requires or ():
            requirement = Requirement(raw)
            extras = ["", *wanted.extras]
            if requirement.marker is None or any(requirement.marker.evaluate({"extra": e}) for e in extras):
                pending.append(requirement)
    return pinned


def _as_labkit_requires(names: list[str]) -> list[str]:
    """Each distribution as labkit's own metadata requires it, with its extras (psycopg[binary]: the C wrapper the
    services need, which an import scan cannot see)."""
    declared = {}
    for raw in metadata.requires("labkit") or ():
        requirement = Requirement(raw)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            declared[canonicalize_name(requirement.name)] = requirement
    found = []
    for name in names:
        requirement = declared.get(canonicalize_name(name))
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement is not None and requirement.extras else ""
        found.append(f"{name}{extras}")
    return found


@dataclass(frozen=True)
class WheelSet:
    """What goes into one image: pinned third-party distributions, and whether labkit itself is included."""

    name: str
    pins: dict[str, str]

    def requirement_lines(self) -> list[str]:
        return [f"{name}=={version}" for name, version in sorted(self.pins.items())]


# What uvicorn loads by name when it is installed (its HTTP parser, its event loop): no import of them to scan.
LOADED_BY_NAME = ("httptools", "uvloop")


def services_wheel_set() -> WheelSet:
    """The services' runtime: labkit plus the distributions `labkit.services` imports, and what they require."""
    names = [n for n in imported_distributions(SERVICE_ENTRY) if canonicalize_name(n) != "labkit"]
    return WheelSet("services", _requirements_closure(_as_labkit_requires([*names, *LOADED_BY_NAME])))


def lab_wheel_set() -> WheelSet:
    """The whole lab: labkit's runtime dependencies (JupyterLab, widgets, plotting...), and what they require."""
    requires = metadata.distribution("labkit").requires or ()
    names = [Requirement(raw).name for raw in requires if "extra ==" not in raw]
    return WheelSet("lab", _requirements_closure(_as_labkit_requires(names)))


def source_digest() -> str:
    """A digest of labkit's source and packaging files: a new labkit wheel is built when it changes."""
    root = repo_root()
    digest = hashlib.sha256()
    for path in sorted([root / "pyproject.toml", *(root / "labkit").rglob("*")]):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-4:]
        raise WheelhouseError(f"pip {args[0]} failed (a package index must be reachable from the host): {tail}")


@dataclass(frozen=True)
class Wheelhouse:
    """A folder of wheels and the requirements file an image installs from it."""

    path: Path
    requirements: tuple[str, ...]
    reused: bool

    @property
    def size_bytes(self) -> int:
        return sum(item.stat().st_size for item in self.path.glob("*.whl"))


def _stamped(folder: Path, digest: str) -> bool:
    stamp = folder / STAMP_FILE
    return stamp.exists() and json.loads(stamp.read_text()).get("digest") == digest


def _fresh(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def build_wheelhouse(wheel_set: WheelSet, destination: Path) -> Wheelhouse:
    """Wheels for the third-party packages of `wheel_set` in `destination`, with its requirements file.

    Reused when the pins have not changed, so an image's dependency layer stays cached while labkit changes.
    """
    lines = tuple(wheel_set.requirement_lines())
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    if _stamped(destination, digest):
        return Wheelhouse(destination, lines, reused=True)
    _fresh(destination)
    (destination / REQUIREMENTS_FILE).write_text("\n".join(lines) + "\n")
    # Binary wheels only: the image has no compiler, and the host's wheels match its Python (3.11, x86-64).
    _pip(
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "-d",
        str(destination),
        "-r",
        str(destination / REQUIREMENTS_FILE),
    )
    (destination / STAMP_FILE).write_text(json.dumps({"digest": digest, "set": wheel_set.name}))
    return Wheelhouse(destination, lines, reused=False)


def build_labkit_wheel(destination: Path) -> Path:
    """labkit itself as a wheel in `destination`, rebuilt only when its source changed; the wheel's path."""
    digest = source_digest()[:16]
    if not _stamped(destination, digest):
        _fresh(destination)
        _pip("wheel", "--quiet", "--no-deps", "-w", str(destination), str(repo_root()))
        (destination / STAMP_FILE).write_text(json.dumps({"digest": digest, "set": "labkit"}))
    wheels = sorted(destination.glob("labkit-*.whl"))
    if not wheels:
        raise WheelhouseError(f"pip wheel left no labkit wheel in {destination}")
    return wheels[-1]
