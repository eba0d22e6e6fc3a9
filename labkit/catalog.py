"""The map of the lab: every notebook, what it teaches and what it needs, in the source's order.

The index notebook, the README table and the tests that check each notebook's opening cell all read this list,
so the facts are written once.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.paths import repo_root

NOTHING = "nothing"
DOCKER = "a Docker engine (optional: without one it explains what it skipped)"
HELM = "helm (installed by `make`)"


@dataclass(frozen=True)
class NotebookEntry:
    """One notebook of the lab."""

    number: int
    slug: str
    title: str
    learn: str
    needs: str
    minutes: int
    exercise: str = ""  # what the learner writes, checked by the notebook ("" where the notebook has none)

    @property
    def filename(self) -> str:
        return f"{self.number:02d}_{self.slug}.ipynb"

    @property
    def path(self) -> str:
        """Path relative to the repository root."""
        return f"notebooks/{self.filename}"

    def exists(self) -> bool:
        return (repo_root() / self.path).exists()


NOTEBOOKS: tuple[NotebookEntry, ...] = (
    NotebookEntry(0, "index", "Index", "the map of the lab, how to run it, and `labkit doctor`", NOTHING, 1),
    NotebookEntry(
        1,
        "monolith_vs_microservices",
        "Monolith vs microservices",
        "functional decomposition into services; one ACID transaction vs two databases; the issues to address",
        NOTHING,
        3,
    ),
    NotebookEntry(
        2,
        "shared_db_vs_db_per_service",
        "Shared database vs database per service",
        'the "recent valuable customers" query four ways, measured: join, API composition, CQRS view, ATTACH',
        NOTHING,
        5,
    ),
    NotebookEntry(
        3,
        "event_driven_and_dual_writes",
        "Event-driven architecture and dual writes",
        "the dual-write problem under injected faults; transactional outbox; idempotent consumers",
        NOTHING,
        5,
        "an idempotent consumer that counts each order once, whatever the broker redelivers",
    ),
    NotebookEntry(
        4,
        "event_sourcing",
        "Event sourcing",
        "the event table, replay, the audit log, temporal queries, duplicate events, concurrency conflicts",
        NOTHING,
        5,
        "a new command and event on the Order aggregate: put an order on hold",
    ),
    NotebookEntry(
        5,
        "snapshots_and_replay",
        "Snapshots and replay at scale",
        "snapshot policy, load time vs history length, Python vs vectorized replay, measured",
        NOTHING,
        4,
        "load an aggregate as of a version from its snapshot and the events after it",
    ),
    NotebookEntry(
        6,
        "cqrs_projections",
        "CQRS projections",
        "read models fed by pull subscribers, projection lag, pause/resume, rebuild from zero",
        NOTHING,
        5,
        "a projection answering a new question: revenue of shipped orders per customer",
    ),
    NotebookEntry(
        7,
        "microservices_and_sagas",
        "Microservices and sagas",
        "three real services over HTTP feeds or a NATS JetStream broker, a choreographed saga, partial failure and "
        "recovery",
        NOTHING,
        7,
        "the saga's compensation: release a cancelled order's credit",
    ),
    NotebookEntry(
        8,
        "dockerfile_anatomy",
        "Dockerfile anatomy",
        "shell vs exec form, RUN/CMD/ENTRYPOINT, ENV, ARG, WORKDIR and every instruction, explained line by line; "
        "who is PID 1 in a container and why `docker stop` sometimes waits; where BuildKit and the legacy builder differ",
        "nothing, except one section (stopping a container) that runs containers on a Docker engine; "
        "without an engine that section says what it skipped and why, and everything else still runs",
        5,
        "a Dockerfile whose container takes run arguments and stops on SIGTERM",
    ),
    NotebookEntry(
        9,
        "docker_build_and_run",
        "docker build and run",
        "images, containers, logs, networks: the lab's services in containers",
        DOCKER,
        6,
        "the `docker run` arguments that run a service as asked",
    ),
    NotebookEntry(
        10,
        "multistage_builds",
        "Multi-stage builds",
        "named stages, COPY --from, --target, and image sizes measured from real builds",
        DOCKER,
        5,
        "a multi-stage Dockerfile that ships the program, not its build",
    ),
    NotebookEntry(
        11,
        "kubernetes_objects",
        "Kubernetes objects",
        "Pod, Deployment, Service, Ingress from the lab's chart; desired vs actual state",
        HELM,
        5,
        "a NodePort Service for the Order pods, checked against the chart's render",
    ),
    NotebookEntry(
        12,
        "helm_charts",
        "Helm charts",
        "chart layout, Chart.yaml, values as an API, lint/template/package, a values playground",
        HELM,
        6,
        "staging values for the chart, checked by a real `helm template`",
    ),
    NotebookEntry(
        13,
        "helm_chart_tricks",
        "Helm chart tricks",
        "checksum rollouts, hooks, existing claims, optional ingress, conditional dependencies, upgrade/rollback",
        HELM,
        6,
        "a PodDisruptionBudget template that passes `helm lint --strict`",
    ),
    NotebookEntry(
        14,
        "event_store_in_production",
        "The event store in production",
        "PostgreSQL as the event store: concurrent writers and positions a subscriber can trust, LISTEN/NOTIFY, "
        "a role per service, where each engine wins",
        "nothing (the PostgreSQL server comes from a pip wheel)",
        3,
    ),
)


def entry(number: int) -> NotebookEntry:
    """The catalog entry of notebook `number`."""
    for item in NOTEBOOKS:
        if item.number == number:
            return item
    known = ", ".join(str(item.number) for item in NOTEBOOKS)
    raise KeyError(f"no notebook number {number}; the lab has {known}")


def index_markdown(*, link_base: str = "") -> str:
    """The lab's map as a markdown table; a title links to its notebook once the notebook exists."""
    lines = [
        "| # | notebook | what you will learn | you write (checked) | needs | about |",
        "|---|---|---|---|---|---|",
    ]
    for item in NOTEBOOKS[1:]:
        title = f"[{item.title}]({link_base}{item.filename})" if item.exists() else f"{item.title} (coming)"
        exercise = item.exercise or "-"
        lines.append(f"| {item.number:02d} | {title} | {item.learn} | {exercise} | {item.needs} | {item.minutes} min |")
    return "\n".join(lines)


def opening_markdown(number: int) -> str:
    """The opening facts every notebook states: what you learn, what it needs, how long it takes."""
    item = entry(number)
    return (
        f"**What you will learn:** {item.learn}.\n\n"
        f"**What it needs:** {item.needs}.\n\n"
        f"**How long it takes:** about {item.minutes} minute{'s' if item.minutes != 1 else ''}."
    )


README_START = "<!-- notebooks: generated by `python -m labkit.catalog` -->"
README_END = "<!-- end of notebooks -->"


def readme_with_table(readme: str) -> str:
    """The README text with its notebook table replaced by the catalog's."""
    head, _, rest = readme.partition(README_START)
    _, _, tail = rest.partition(README_END)
    if not rest:
        raise ValueError(f"README.md has no {README_START!r} marker")
    return f"{head}{README_START}\n{index_markdown(link_base='notebooks/')}\n{README_END}{tail}"


if __name__ == "__main__":
    readme_path = repo_root() / "README.md"
    readme_path.write_text(readme_with_table(readme_path.read_text()))
