"""`explain(dockerfile_text)`: the image Docker would build, worked out line by line without building it.

The text is read by Docker's own parser (the `dockerfile` package); this module then does what Docker's builder
does with each instruction: shell vs exec form (and SHELL), variable substitution where the builder substitutes
(ENV, ARG, LABEL, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL, COPY/ADD paths, FROM with the ARGs before it) and
not where it does not (RUN, CMD, ENTRYPOINT, HEALTHCHECK, COPY --from), only the last CMD/ENTRYPOINT counting,
ENTRYPOINT resetting an inherited CMD, WORKDIR chains, inheritance from base images and earlier stages,
ONBUILD triggers, and `--target`. It does so for one of Docker's two builders (`builder="buildkit"`, Docker's default
since 23.0, or `"legacy"`) and one Dockerfile syntax version (`syntax`; see `builders`): BuildKit skips the stages the
target does not need, gives a FROM scratch stage WorkingDir `/`, sets `ARG TARGETARCH` and the other platform
arguments, and takes the `--chmod`/`--mount` flags the legacy builder refuses. The proof suite
(tests/test_containers_proof.py) builds a table of Dockerfiles on a real engine with both builders and checks that
these predictions equal `docker image inspect` and `docker inspect`.

What a stage inherits from its base image comes from `base_images` (a `docker image inspect` Config per image),
else from the engine when one is reachable; an image known to neither is assumed to have an empty configuration,
and the explanation says so in `assumptions`.

>>> result = explain(
...     'FROM scratch\\nENV APP=/srv/app\\nWORKDIR $APP\\nENTRYPOINT ["python3", "-m", "app"]\\nCMD ["--port", "8000"]'
... )
>>> result.command()
('python3', '-m', 'app', '--port', '8000')
>>> result.command(["--help"])
('python3', '-m', 'app', '--help')
>>> result.working_dir
'/srv/app'
>>> explain("FROM scratch\\nCOPY app /app", builder="buildkit").working_dir
'/'
>>> explain("FROM scratch\\nCOPY app /app", builder="legacy").working_dir
''
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from labkit.containers import builder_rules
from labkit.containers.builders import (
    CURRENT,
    DEFAULT_BUILDER,
    FLAG_SINCE,
    HEREDOCS_SINCE,
    Builder,
    DockerfileSyntax,
    check_builder,
    host_platform,
    platform_args,
    requires_buildkit,
    syntax_from_frontend,
)
from labkit.containers.errors import (
    DockerfileError,
    DockerfileSyntaxError,
    InvalidInstructionError,
    UnknownTargetError,
)
from labkit.containers.explanation import CopyPlan, Explanation, StagePlan, Step
from labkit.containers.imageconfig import DEFAULT_PATH, Healthcheck, ImageConfig
from labkit.containers.instructions import Instruction, directives, parse
from labkit.containers.substitution import references, substitute, substitute_words

SCRATCH = "scratch"
# Build arguments Docker lets through without an ARG instruction (proxy settings).
BUILTIN_BUILD_ARGS = frozenset(
    {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy"}
    | {"ALL_PROXY", "all_proxy"}
)
ONBUILD_PREFIX = re.compile(r"(?i)^\s*ONBUILD\s*")


class ImageConfigSource(Protocol):
    """Anything that can say what `docker image inspect` reports as an image's Config (an Engine does)."""

    def image_config(self, reference: str) -> Mapping[str, Any] | None: ...


EngineChoice = ImageConfigSource | None | Literal["auto"]


def reference_variants(reference: str) -> list[str]:
    """Spellings of one image reference (`busybox`, `busybox:latest`, `docker.io/library/busybox:latest`)."""
    short = reference.removeprefix("docker.io/").removeprefix("library/")
    last = short.rsplit("/", 1)[-1]
    tagged = short if (":" in last or "@" in last) else f"{short}:latest"
    variants = [reference, short, tagged, f"docker.io/library/{tagged}", f"docker.io/{tagged}"]
    return list(dict.fromkeys(variants))


@dataclass
class _BaseImages:
    """Resolves a base image's Config: the caller's mapping first, then the engine; records what it assumed."""

    given: Mapping[str, Mapping[str, Any]]
    engine: EngineChoice
    assumptions: list[str] = field(default_factory=list)
    engine_reason: str | None = None

    def _engine(self) -> ImageConfigSource | None:
        if self.engine == "auto":
            # One way only: the engine driver never imports the explainer (prebuild wires the two for builds).
            # Imported here so that explaining offline does not load the docker SDK.
            from labkit.containers.engine import connect_or_reason

            engine, reason = connect_or_reason()
            self.engine, self.engine_reason = engine, reason
        return self.engine if self.engine != "auto" else None

    def lookup(self, reference: str) -> tuple[ImageConfig, str]:
        """The image's configuration and where it came from (for the explanation)."""
        for variant in reference_variants(reference):
            if variant in self.given:
                return ImageConfig.from_inspect(self.given[variant]), "its Config given in base_images"
        engine = self._engine()
        if engine is not None:
            config = engine.image_config(reference)
            if config is not None:
                return ImageConfig.from_inspect(config), "its Config read from the engine"
            why = "it is not in the engine's image store (labkit never pulls)"
        else:
            why = f"no engine to ask ({self.engine_reason})" if self.engine_reason else "no engine was consulted"
        self.assumptions.append(
            f"base image {reference!r} is unknown: {why}; assumed an empty configuration (no Env, Cmd, Entrypoint, "
            "WorkingDir, User). Pass base_images={...} with its `docker image inspect` Config to be exact."
        )
        return ImageConfig(), "unknown: assumed empty"


@dataclass(frozen=True)
class _Build:
    """Which builder runs the build, the Dockerfile syntax its parser reads, and the platform it builds for."""

    builder: Builder
    syntax: DockerfileSyntax
    platform: str


@dataclass
class _Stage:
    """A stage while its instructions are applied."""

    plan: StagePlan
    base_config: ImageConfig
    config: ImageConfig
    args: dict[str, str | None] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    variable_origins: dict[str, str] = field(default_factory=dict)
    copies: list[CopyPlan] = field(default_factory=list)
    author: str = ""
    cmd_set: bool = False
    dispatched: int = 0
    final_config: ImageConfig | None = None
    skipped: bool = False  # BuildKit: the target does not need this stage, so its lines never run
    # BuildKit: ARG values the stage's build state carries. They win over an earlier ENV of the same name in later
    # lines (and RUN), and a stage built FROM this one inherits them; the legacy builder has neither.
    state_args: dict[str, str] = field(default_factory=dict)


def _pairs(arguments: Sequence[str]) -> list[tuple[str, str]]:
    return [(arguments[i], arguments[i + 1]) for i in range(0, len(arguments) - 1, 2)]


def _json(argv: Sequence[str] | None) -> str:
    return json.dumps(list(argv)) if argv is not None else "null"


class _Evaluator:
    """Applies instructions the way Docker's builder dispatches them."""

    def __init__(
        self,
        escape: str,
        build_args: Mapping[str, str],
        base_images: _BaseImages,
        build: _Build,
    ) -> None:
        self.escape = escape
        self.build_args = dict(build_args)
        self.base_images = base_images
        self.build = build
        # BuildKit's platform arguments: seen by FROM lines and ARG defaults before FROM, and by a stage's
        # `ARG TARGETARCH` (no value); the legacy builder has none.
        self.automatic_args = platform_args(build.platform) if build.builder == "buildkit" else {}
        self.meta_args: dict[str, str | None] = {}
        self.stages: list[_Stage] = []
        self.steps: list[Step] = []
        self.consumed_args: set[str] = set()

    # Substitution -----------------------------------------------------------------------------------------
    def _builtin_args(self, exclude: Mapping[str, str]) -> dict[str, str]:
        return {k: v for k, v in self.build_args.items() if k in BUILTIN_BUILD_ARGS and k not in exclude}

    def meta_env(self) -> dict[str, str]:
        env = dict(self.automatic_args)
        env.update({key: value for key, value in self.meta_args.items() if value is not None})
        env.update(self._builtin_args(env))
        return env

    def stage_env(self, stage: _Stage) -> dict[str, str]:
        """What `$VAR` sees in a stage: the image's Env, then declared ARGs that Env does not shadow (with BuildKit,
        an ARG declared after the ENV of its name wins)."""
        env = stage.config.env_map
        for key, value in stage.args.items():
            if value is not None and key not in env:
                env[key] = value
        env.update(stage.state_args)
        env.update(self._builtin_args(env))
        return env

    def _sub(self, word: str, env: Mapping[str, str]) -> str:
        return substitute(word, env, escape=self.escape, syntax=self.build.syntax)

    def _sub_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        return substitute_words(word, env, escape=self.escape, syntax=self.build.syntax)

    def _explain_refs(self, words: Sequence[str], env: Mapping[str, str], stage: _Stage | None) -> str:
        notes: list[str] = []
        for word in words:
            for name in references(word, escape=self.escape):
                if name in env:
                    where = stage.variable_origins.get(name, "") if stage else "ARG before FROM"
                    notes.append(f"${name}={env[name]!r}" + (f" ({where})" if where else ""))
                else:
                    notes.append(f"${name} is not set: empty")
        return f" [substituted: {', '.join(dict.fromkeys(notes))}]" if notes else ""

    # Bookkeeping ------------------------------------------------------------------------------------------
    def _step(self, stage: _Stage | str, instruction: Instruction, effect: str) -> None:
        label = stage.plan.label if isinstance(stage, _Stage) else stage
        self.steps.append(Step(instruction.line, instruction.end_line, label, instruction.source.strip(), effect))

    @staticmethod
    def _set(stage: _Stage, instruction: Instruction, **changes: Any) -> None:
        """Change the stage's configuration and remember which line set each field."""
        stage.config = replace(stage.config, **changes)
        for name in changes:
            stage.origins[name] = f"line {instruction.lines}: {instruction.source.strip()}"

    # ARG ----------------------------------------------------------------------------------------------------
    def _arg_value(self, key: str, default: str | None, *, meta: bool) -> str | None:
        if key in self.build_args:
            return self.build_args[key]
        if default is not None:
            return default
        if meta:
            return self.automatic_args.get(key)
        return self.meta_args.get(key, self.automatic_args.get(key))

    def meta_arg(self, instruction: Instruction) -> None:
        for raw in instruction.arguments:
            key, has_value, value = raw.partition("=")
            env = self.meta_env()
            key = self._sub(key, env)
            if not key:
                raise InvalidInstructionError("ARG names can not be blank", line=instruction.line)
            default = self._sub(value, env) if has_value else None
            self.meta_args[key] = self._arg_value(key, default, meta=True)
            self.consumed_args.add(key)
            self._step(
                "before FROM",
                instruction,
                f"declares build argument {key}={self.meta_args[key]!r} for FROM lines; a stage sees it only if it "
                f"repeats `ARG {key}`",
            )

    def stage_arg(self, stage: _Stage, instruction: Instruction) -> None:
        for raw in instruction.arguments:
            env = self.stage_env(stage)
            key, has_value, value = raw.partition("=")
            key = self._sub(key, env)
            if not key:
                raise InvalidInstructionError("ARG names can not be blank", line=instruction.line)
            default = self._sub(value, env) if has_value else None
            effective = self._arg_value(key, default, meta=False)
            stage.args[key] = effective
            if effective is not None and self.build.builder == "buildkit":
                stage.state_args[key] = effective
            self.consumed_args.add(key)
            if key in self.build_args:
                source = "--build-arg"
            elif default is not None:
                source = f"default on line {instruction.line}"
            elif key in self.meta_args and effective is not None:
                source = "value of the ARG before FROM"
            elif effective is not None:
                source = f"BuildKit's platform argument for {self.build.platform}"
            else:
                source = "no value: unset"
            stage.variable_origins[key] = f"ARG, {source}"
            shadow = ""
            if key in stage.config.env_map and self.build.builder == "buildkit" and effective is not None:
                shadow = (
                    f" (BuildKit: it now wins over the ENV {key} in later lines and in RUN; the image's Env keeps "
                    "the ENV's value)"
                )
            elif key in stage.config.env_map:
                shadow = " (the ENV of the same name wins in substitutions)"
            shown = repr(effective) if effective is not None else "unset"
            self._step(
                stage,
                instruction,
                f"build argument {key}={shown} ({source}): usable as ${key} in later lines of this stage and in "
                f"RUN, not stored in the image's Env{shadow}"
                + self._explain_refs([value] if has_value else [], env, stage),
            )

    # FROM ---------------------------------------------------------------------------------------------------
    def begin_stage(self, instruction: Instruction) -> _Stage:
        arguments = instruction.arguments
        env = self.meta_env()
        base = self._sub(arguments[0], env)
        if not base:
            raise InvalidInstructionError(f"base name ({arguments[0]}) should not be blank", line=instruction.line)
        name = None
        if len(arguments) == 3:
            name = builder_rules.check_stage_name(arguments[2])
            if any(stage.plan.name == name for stage in self.stages):
                raise InvalidInstructionError(f"duplicate name {name!r} for build stage", line=instruction.line)
        index = len(self.stages)
        earlier = {stage.plan.name: stage for stage in self.stages if stage.plan.name}
        stage_base = earlier.get(base.lower())
        if stage_base is not None:
            kind: Literal["image", "stage", "scratch"] = "stage"
            base_config, where = stage_base.final_config, f"stage {stage_base.plan.label}"
            base_stage: int | None = stage_base.plan.index
        elif base == SCRATCH:
            kind, base_config, where, base_stage = "scratch", ImageConfig(), "scratch (empty)", None
        else:
            builder_rules.check_image_reference(base, what="base image name")
            kind, base_stage = "image", None
            base_config, source = self.base_images.lookup(base)
            where = f"image {base} ({source})"
        plan = StagePlan(index, name, base, kind, instruction.line, base_stage)
        config = base_config
        scratch_workdir = kind == "scratch" and self.build.builder == "buildkit"
        if scratch_workdir:
            # BuildKit starts a scratch stage from an image config with WorkingDir "/"; the legacy builder leaves it empty.
            config = replace(config, working_dir="/")
        if "PATH" not in config.env_map:
            # Docker gives every stage a PATH when its base has none (visible once the stage commits a layer).
            config = replace(config, env=(*config.env, f"PATH={DEFAULT_PATH}"))
        stage = _Stage(plan=plan, base_config=base_config, config=config)
        if stage_base is not None and self.build.builder == "buildkit":
            # BuildKit starts the stage from the earlier stage's build state, ARG values included.
            stage.args = dict(stage_base.args)
            stage.state_args = dict(stage_base.state_args)
            for key in stage.state_args:
                stage.variable_origins[key] = f"ARG of stage {stage_base.plan.label}, carried over by BuildKit"
        for key in base_config.env_map:
            stage.variable_origins[key] = f"Env of {where}"
        stage.variable_origins.setdefault("PATH", "Docker's default PATH")
        for name_, value in (("entrypoint", base_config.entrypoint), ("cmd", base_config.cmd)):
            if value:
                stage.origins[name_] = f"inherited from {where}"
        for name_, value in (("working_dir", base_config.working_dir), ("user", base_config.user)):
            if value:
                stage.origins[name_] = f"inherited from {where}"
        if scratch_workdir:
            stage.origins["working_dir"] = "BuildKit's WorkingDir for a FROM scratch stage (the legacy builder: none)"
        self.stages.append(stage)
        inherited = self._inherited_summary(base_config)
        self._step(
            stage,
            instruction,
            f"starts stage {plan.label} from {where}"
            + inherited
            + ("; BuildKit gives it WorkingDir /" if scratch_workdir else "")
            + self._explain_refs([arguments[0]], env, None),
        )
        if base_config.on_build:
            self._run_triggers(stage, instruction, base_config.on_build)
        return stage

    @staticmethod
    def _inherited_summary(config: ImageConfig) -> str:
        parts = []
        if config.entrypoint:
            parts.append(f"ENTRYPOINT {_json(config.entrypoint)}")
        if config.cmd:
            parts.append(f"CMD {_json(config.cmd)}")
        if config.working_dir:
            parts.append(f"WORKDIR {config.working_dir}")
        if config.user:
            parts.append(f"USER {config.user}")
        if config.env:
            parts.append(f"{len(config.env)} Env variables")
        return f"; inherits {', '.join(parts)}" if parts else ""

    def _run_triggers(self, stage: _Stage, origin: Instruction, triggers: Sequence[str]) -> None:
        stage.config = replace(stage.config, on_build=())
        for trigger in triggers:
            try:
                parsed = parse(trigger).instructions
            except DockerfileError as exc:
                raise type(exc)(
                    f"in the base image's ONBUILD trigger {trigger!r}: {exc.reason}", line=origin.line
                ) from None
            for instruction in parsed:
                moved = replace(
                    instruction,
                    line=origin.line,
                    end_line=origin.end_line,
                    source=f"ONBUILD trigger of the base: {instruction.source}",
                )
                self.dispatch(stage, moved)

    # Instructions in a stage --------------------------------------------------------------------------------
    def dispatch(self, stage: _Stage, instruction: Instruction) -> None:
        stage.dispatched += 1
        handler = HANDLERS.get(instruction.keyword.upper())
        if handler is None:
            # FROM (which `explain` handles) or a keyword Docker does not know: fails as the old lookup by name did.
            raise AttributeError(f"'_Evaluator' object has no attribute '_do_{instruction.keyword.lower()}'")
        note = self._buildkit_flags(instruction)
        handler(self, stage, instruction)
        if note:
            self.steps[-1] = replace(self.steps[-1], effect=f"{self.steps[-1].effect} ({note})")

    def _buildkit_flags(self, instruction: Instruction) -> str:
        """A note on the BuildKit-only flags of a line; the legacy builder refuses some when it runs the line."""
        since = FLAG_SINCE.get(instruction.keyword, {})
        used = [name for name in instruction.flag_names() if name in since]
        if not used:
            return ""
        if self.build.builder == "buildkit":
            return f"--{', --'.join(used)}: BuildKit, from Dockerfile syntax {max(since[n] for n in used)}"
        refused = [name for name in used if requires_buildkit(instruction.keyword, name)]
        if refused:
            raise InvalidInstructionError(
                f"the --{refused[0]} option requires BuildKit (the legacy builder refuses it: build with BuildKit, "
                "Docker's default since 23.0)",
                line=instruction.line,
            )
        return f"--{', --'.join(used)}: the legacy builder reads it and ignores it"

    def _do_arg(self, stage: _Stage, instruction: Instruction) -> None:
        self.stage_arg(stage, instruction)

    def _do_env(self, stage: _Stage, instruction: Instruction) -> None:
        env = self.stage_env(stage)
        result = list(stage.config.env)
        shown = []
        for raw_key, raw_value in _pairs(instruction.arguments):
            key = self._sub(raw_key, env)
            if not key:
                raise InvalidInstructionError("ENV names can not be blank", line=instruction.line)
            value = self._sub(raw_value, env)
            for i, existing in enumerate(result):
                if existing.partition("=")[0] == key:
                    result[i] = f"{key}={value}"
                    break
            else:
                result.append(f"{key}={value}")
            stage.variable_origins[key] = f"ENV, line {instruction.line}"
            stage.state_args.pop(key, None)
            shown.append(f"{key}={value!r}")
        self._set(stage, instruction, env=tuple(result))
        refs = self._explain_refs(instruction.arguments[1::2], env, stage)
        self._step(
            stage,
            instruction,
            f"sets Env {', '.join(shown)}: stored in the image, seen by RUN and by the container"
            + (refs or "")
            + (" (values are substituted with the Env before this line)" if refs else ""),
        )

    def _do_label(self, stage: _Stage, instruction: Instruction) -> None:
        env = self.stage_env(stage)
        labels = dict(stage.config.labels)
        shown = []
        for raw_key, raw_value in _pairs(instruction.arguments):
            key = self._sub(raw_key, env)
            value = self._sub(raw_value, env)
            labels[key] = value
            shown.append(f"{key}={value!r}")
        self._set(stage, instruction, labels=labels)
        self._step(
            stage,
            instruction,
            f"sets label {', '.join(shown)}" + self._explain_refs(instruction.arguments, env, stage),
        )

    def _do_workdir(self, stage: _Stage, instruction: Instruction) -> None:
        env = self.stage_env(stage)
        requested = self._sub(instruction.arguments[0], env)
        previous = stage.config.working_dir
        if not requested and self.build.builder == "buildkit":
            requested = previous or "/"  # BuildKit keeps the current directory; the legacy builder refuses
        resolved = builder_rules.working_dir(previous, requested)
        self._set(stage, instruction, working_dir=resolved)
        how = (
            "absolute: taken as written"
            if requested.startswith("/")
            else f"relative: joined to the current {previous or '/'!r}"
        )
        self._step(
            stage,
            instruction,
            f"working directory {resolved!r} ({how}); created if missing"
            + self._explain_refs(instruction.arguments, env, stage),
        )

    def _do_user(self, stage: _Stage, instruction: Instruction) -> None:
        env = self.stage_env(stage)
        user = self._sub(instruction.arguments[0], env)
        self._set(stage, instruction, user=user)
        self._step(
            stage,
            instruction,
            f"runs later RUN lines and the container as user {user!r}"
            + self._explain_refs(instruction.arguments, env, stage),
        )

    def _do_expose(self, stage: _Stage, instruction: Instruction) -> None:
        env = self.stage_env(stage)
        ports = set(stage.config.exposed_ports)
        added: list[str] = []
        for raw in instruction.arguments:
            for word in self._sub_words(raw, env):
                found = builder_rules.exposed_ports(word)
                added.extend(found)
                ports.update(found)
        self._set(stage, instruction, exposed_ports=tuple(sorted(ports)))
        self._step(
            stage,
            instruction,
            f"documents ports {', '.join(dict.fromkeys(added))} (metadata only: publish them with `docker run -p`)"
            + self._explain_refs(instruction.arguments, env, stage),
        )

    def _do_volume(self, stage: _Stage, instruction: Instruction) -> None:
        env = self.stage_env(stage)
        volumes = set(stage.config.volumes)
        added = []
        for raw in instruction.arguments:
            path = self._sub(raw, env)
            if not path.strip():
                raise InvalidInstructionError("VOLUME specified can not be an empty string", line=instruction.line)
            volumes.add(path)
            added.append(path)
        self._set(stage, instruction, volumes=tuple(sorted(volumes)))
        form = "exec form (JSON array)" if instruction.exec_form else "shell form (words)"
        self._step(
            stage,
            instruction,
            f"declares volume {', '.join(repr(v) for v in added)} ({form}): each container gets an anonymous "
            "volume there unless one is mounted" + self._explain_refs(instruction.arguments, env, stage),
        )

    def _do_stopsignal(self, stage: _Stage, instruction: Instruction) -> None:
        env = self.stage_env(stage)
        value = self._sub(instruction.arguments[0], env)
        builder_rules.check_stop_signal(value)
        self._set(stage, instruction, stop_signal=value)
        self._step(stage, instruction, f"`docker stop` sends {value} instead of SIGTERM")

    def _do_shell(self, stage: _Stage, instruction: Instruction) -> None:
        shell = tuple(instruction.arguments)
        self._set(stage, instruction, shell=shell)
        self._step(stage, instruction, f"shell form of later RUN/CMD/ENTRYPOINT now runs under {_json(shell)}")

    def _form(self, stage: _Stage, instruction: Instruction, *, empty_is_none: bool) -> tuple[tuple[str, ...], str]:
        """The argv of an exec- or shell-form CMD/ENTRYPOINT/RUN, and a sentence about the form."""
        if instruction.exec_form:
            argv = tuple(instruction.arguments)
            dollars = [a for a in argv if "$" in a]
            note = "exec form (JSON array): runs without a shell" + (
                f"; {', '.join(dollars)} reaches the program literally (no variable substitution)" if dollars else ""
            )
            return argv, note
        shell = stage.config.effective_shell
        if not instruction.arguments and self.build.builder == "buildkit":
            return (*shell, ""), f'empty shell form: BuildKit gives the shell an empty command ({_json(shell)} + "")'
        if empty_is_none and not instruction.arguments:
            return (), "empty shell form: nothing"
        argv = (*shell, *instruction.arguments)
        looks_json = instruction.source.split(None, 1)[-1].lstrip().startswith("[")
        note = (
            "not a valid JSON array of strings, so Docker takes it as shell form: "
            if looks_json and instruction.arguments
            else "shell form: "
        )
        note += f"wrapped in {_json(shell)}"
        if instruction.arguments and "$" in instruction.arguments[0]:
            note += "; Docker does not substitute variables here: the shell expands them when it runs"
        return argv, note

    def _do_cmd(self, stage: _Stage, instruction: Instruction) -> None:
        argv, note = self._form(stage, instruction, empty_is_none=False)
        if stage.cmd_set:
            replaced = " (replaces the CMD above: only the last one counts)"
        elif stage.config.cmd:
            replaced = " (replaces the CMD inherited from the base)"
        else:
            replaced = ""
        # An explicit `CMD []` runs nothing either way, but the legacy builder records it as an empty command
        # ("Cmd": []) and BuildKit as none at all ("Cmd": null): both measured on Engine 20.10.
        cmd = argv if instruction.exec_form and self.build.builder == "legacy" else (argv or None)
        self._set(stage, instruction, cmd=cmd)
        stage.cmd_set = True
        self._step(stage, instruction, f"CMD {_json(cmd)}: {note}{replaced}")

    def _do_entrypoint(self, stage: _Stage, instruction: Instruction) -> None:
        argv, note = self._form(stage, instruction, empty_is_none=True)
        changes: dict[str, Any] = {"entrypoint": argv or None}
        reset = ""
        if not stage.cmd_set and stage.config.cmd is not None:
            changes["cmd"] = None
            reset = f"; resets the CMD {_json(stage.config.cmd)} inherited from the base (no CMD in this stage yet)"
        self._set(stage, instruction, **changes)
        if "cmd" in changes:
            stage.origins["cmd"] = f"reset by line {instruction.lines}"
        self._step(stage, instruction, f"ENTRYPOINT {_json(argv or None)}: {note}{reset}")

    def _do_run(self, stage: _Stage, instruction: Instruction) -> None:
        argv, note = self._form(stage, instruction, empty_is_none=False)
        if instruction.heredocs:
            documents = ", ".join(f"<<{name}" for name in instruction.heredocs)
            if self.build.builder == "buildkit":
                note += f"; BuildKit feeds the here-document ({documents}) to it: its lines are the script"
            else:
                note += (
                    f"; the legacy builder drops the here-document ({documents}): the shell gets only the first "
                    "line, so the document's lines never run"
                )
        self._step(
            stage,
            instruction,
            f"runs {_json(argv)} at build time and commits the files it changes; {note}; the image's "
            "configuration does not change",
        )

    def _do_healthcheck(self, stage: _Stage, instruction: Instruction) -> None:
        line = instruction.line
        kind = instruction.arguments[0].upper()
        rest = instruction.arguments[1:]
        if kind == "NONE":
            if rest:
                raise InvalidInstructionError("HEALTHCHECK NONE takes no arguments", line=line)
            self._set(stage, instruction, healthcheck=Healthcheck(("NONE",)))
            self._step(stage, instruction, "disables any health check inherited from the base image")
            return
        if kind != "CMD":
            raise InvalidInstructionError(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)', line=line)
        if not rest or not any(rest):
            raise InvalidInstructionError("Missing command after HEALTHCHECK CMD", line=line)
        test = ("CMD", *rest) if instruction.exec_form else ("CMD-SHELL", rest[0])
        durations: dict[str, int] = {}
        for flag, attribute in (
            ("interval", "interval_ns"),
            ("timeout", "timeout_ns"),
            ("start-period", "start_period_ns"),
            ("start-interval", "start_interval_ns"),
        ):
            value = instruction.flag(flag)
            if value:
                durations[attribute] = builder_rules.duration_ns(value, flag)
        retries_text = instruction.flag("retries")
        retries = 0
        if retries_text:
            if not re.fullmatch(r"[+-]?\d+", retries_text):
                raise InvalidInstructionError(f"--retries must be a number, not {retries_text!r}", line=line)
            retries = int(retries_text)
            if retries < 1:
                raise InvalidInstructionError(f"--retries must be at least 1 (not {retries})", line=line)
        check = Healthcheck(test, retries=retries, **durations)
        self._set(stage, instruction, healthcheck=check)
        form = "exec form" if instruction.exec_form else "shell form (CMD-SHELL: run by the container's shell)"
        self._step(stage, instruction, f"health check {_json(test)} ({form}); no variable substitution by Docker")

    def _do_maintainer(self, stage: _Stage, instruction: Instruction) -> None:
        stage.author = instruction.arguments[0]
        self._step(
            stage,
            instruction,
            f"sets the image's Author to {stage.author!r}; MAINTAINER is deprecated: use "
            'LABEL org.opencontainers.image.authors="..." instead',
        )

    def _do_onbuild(self, stage: _Stage, instruction: Instruction) -> None:
        trigger = ONBUILD_PREFIX.sub("", instruction.source)
        self._set(stage, instruction, on_build=(*stage.config.on_build, trigger))
        self._step(stage, instruction, f"stores the trigger {trigger!r}: it runs when another build uses this image")

    def _do_copy(self, stage: _Stage, instruction: Instruction) -> None:
        self._copy(stage, instruction)

    def _do_add(self, stage: _Stage, instruction: Instruction) -> None:
        self._copy(stage, instruction)

    def _copy(self, stage: _Stage, instruction: Instruction) -> None:
        env = self.stage_env(stage)
        line = instruction.line
        documents = {f"<<{name}" for name in instruction.heredocs}
        if documents and self.build.builder == "legacy":
            raise InvalidInstructionError(
                f"{instruction.keyword} failed: no source files were specified (the legacy builder does not read "
                "here-documents: build with BuildKit)",
                line=line,
            )
        paths = [raw if raw in documents else self._sub(raw, env) for raw in instruction.arguments]
        chown = instruction.flag("chown")
        if chown:
            chown = self._sub(chown, env)
        source_ref = instruction.flag("from")
        from_stage, from_image = None, None
        if source_ref is not None:
            from_stage, from_image = self._copy_source(stage, source_ref, line)
        plan = CopyPlan(line, instruction.keyword, tuple(paths[:-1]), paths[-1], from_stage, from_image)
        stage.copies.append(plan)
        urls = [source for source in plan.sources if source.startswith(("http://", "https://"))]
        if urls and instruction.keyword == "ADD" and plan.from_stage is None and plan.from_image is None:
            note = f"downloads {', '.join(urls)} to {plan.destination}"
            others = [source for source in plan.sources if source not in urls]
            if others:
                note += f" and copies {', '.join(others)} from the build context"
        elif documents:
            note = f"writes the here-document {', '.join(plan.sources)} to {plan.destination} (BuildKit)"
        else:
            note = f"copies {', '.join(plan.sources)} from the {plan.origin} to {plan.destination}"
        if chown:
            note += f", owned by {chown}"
        if source_ref is not None:
            note += " (--from is never substituted: it must name a stage or an image as written)"
        if instruction.keyword == "ADD":
            note += "; ADD also fetches URLs and unpacks local tar archives: prefer COPY when you only copy"
        self._step(stage, instruction, note + self._explain_refs(instruction.arguments, env, stage))

    def _copy_source(self, stage: _Stage, reference: str, line: int) -> tuple[int | None, str | None]:
        if reference.isdigit():
            index = int(reference)
            if index >= stage.plan.index:
                raise InvalidInstructionError(
                    f"invalid from flag value {reference}: stage {index} is not an earlier stage", line=line
                )
            return index, None
        for earlier in self.stages[: stage.plan.index]:
            if earlier.plan.name == reference.lower():
                return earlier.plan.index, None
        builder_rules.check_image_reference(reference, what="from flag value")
        return None, reference

    # Results ------------------------------------------------------------------------------------------------
    def skip_stage(self, instruction: Instruction, plan: StagePlan, target: StagePlan) -> _Stage:
        """BuildKit: a stage the target does not need; none of its lines runs, so none of them can fail."""
        stage = _Stage(plan=plan, base_config=ImageConfig(), config=ImageConfig(), skipped=True)
        self.stages.append(stage)
        self._step(
            stage,
            instruction,
            f"BuildKit skips stage {plan.label}: the target (stage {target.label}) does not need it, so its lines "
            "are not run (the legacy builder would run them)",
        )
        return stage

    def finish_stage(self, stage: _Stage) -> None:
        if stage.skipped:
            return
        stage.plan = replace(stage.plan, copies=tuple(stage.copies))
        if self.build.builder == "buildkit":
            # BuildKit exports the stage's config as set up at FROM (with its PATH and scratch WorkingDir) even
            # when no line changes it; the legacy builder, with nothing to commit, leaves the base image as it is.
            stage.final_config = stage.config
        else:
            stage.final_config = stage.config if stage.dispatched else stage.base_config
        if not stage.dispatched:
            stage.author = ""


# The method that applies each instruction inside a stage, by keyword (FROM starts a stage: `explain` handles it).
HANDLERS: dict[str, Callable[[_Evaluator, _Stage, Instruction], None]] = {
    "ADD": _Evaluator._do_add,
    "ARG": _Evaluator._do_arg,
    "CMD": _Evaluator._do_cmd,
    "COPY": _Evaluator._do_copy,
    "ENTRYPOINT": _Evaluator._do_entrypoint,
    "ENV": _Evaluator._do_env,
    "EXPOSE": _Evaluator._do_expose,
    "HEALTHCHECK": _Evaluator._do_healthcheck,
    "LABEL": _Evaluator._do_label,
    "MAINTAINER": _Evaluator._do_maintainer,
    "ONBUILD": _Evaluator._do_onbuild,
    "RUN": _Evaluator._do_run,
    "SHELL": _Evaluator._do_shell,
    "STOPSIGNAL": _Evaluator._do_stopsignal,
    "USER": _Evaluator._do_user,
    "VOLUME": _Evaluator._do_volume,
    "WORKDIR": _Evaluator._do_workdir,
}


@contextmanager
def _at_line(line: int) -> Iterator[None]:
    """Give an error raised while applying an instruction that instruction's line (the rule checks do not know it)."""
    try:
        yield
    except DockerfileError as exc:
        if exc.line is not None:
            raise
        raise type(exc)(exc.reason, line=line) from None


def _target_index(instructions: Sequence[Instruction], target: str | None) -> int | None:
    names = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            arguments = instruction.arguments
            names.append(arguments[2].lower() if len(arguments) == 3 else None)
    if not names:
        raise DockerfileSyntaxError("the Dockerfile has no FROM instruction: every build starts with FROM <image>")
    if target is None:
        return None
    if target.lower() in names:
        return names.index(target.lower())
    known = ", ".join(n for n in names if n) or "none: name them with FROM <image> AS <name>"
    raise UnknownTargetError(f"failed to reach build target {target!r} in the Dockerfile; its named stages: {known}")


def _stage_outline(
    instructions: Sequence[Instruction], meta_env: Mapping[str, str], escape: str, syntax: DockerfileSyntax
) -> list[StagePlan]:
    """Every stage's base and COPY --from sources, read without running anything: what BuildKit's graph needs."""
    plans: list[StagePlan] = []
    copies: list[CopyPlan] = []

    def close() -> None:
        if plans:
            plans[-1] = replace(plans[-1], copies=tuple(copies))

    for instruction in instructions:
        if instruction.keyword == "FROM":
            close()
            copies = []
            arguments = instruction.arguments
            with _at_line(instruction.line):
                base = substitute(arguments[0], meta_env, escape=escape, syntax=syntax)
            name = arguments[2].lower() if len(arguments) == 3 else None
            earlier = {plan.name: plan.index for plan in plans if plan.name}
            base_stage = earlier.get(base.lower())
            kind: Literal["image", "stage", "scratch"] = (
                "stage" if base_stage is not None else "scratch" if base == SCRATCH else "image"
            )
            plans.append(StagePlan(len(plans), name, base, kind, instruction.line, base_stage))
        elif plans and instruction.keyword in ("COPY", "ADD"):
            reference = instruction.flag("from")
            from_stage, from_image = None, None
            if reference is not None:
                names = {plan.name: plan.index for plan in plans[:-1] if plan.name}
                if reference.isdigit():
                    from_stage = int(reference)
                elif reference.lower() in names:
                    from_stage = names[reference.lower()]
                else:
                    from_image = reference
            arguments = instruction.arguments
            copies.append(
                CopyPlan(instruction.line, instruction.keyword, arguments[:-1], arguments[-1], from_stage, from_image)
            )
    close()
    return plans


def _needed_stages(outline: Sequence[StagePlan], target: int) -> set[int]:
    """The target and every stage it reaches through FROM and COPY --from: what BuildKit builds."""
    needed: set[int] = set()
    pending = [target]
    while pending:
        index = pending.pop()
        if index not in needed and index < len(outline):
            needed.add(index)
            pending.extend(outline[index].depends_on)
    return needed


def _check_syntax(instructions: Sequence[Instruction], syntax: DockerfileSyntax) -> None:
    """What the parser of `syntax` refuses in any stage, needed or not: flags it does not know, here-documents."""
    for instruction in instructions:
        since = FLAG_SINCE.get(instruction.keyword, {})
        for name in instruction.flag_names():
            if name in since and since[name] > syntax:
                raise InvalidInstructionError(
                    f"Unknown flag: {name} (on {instruction.keyword}: Dockerfile syntax {since[name]} added it, "
                    f"this build reads {syntax})",
                    line=instruction.line,
                )
        if instruction.heredocs and syntax < HEREDOCS_SINCE:
            raise DockerfileSyntaxError(
                f"unknown instruction: the here-document <<{instruction.heredocs[0]} of line {instruction.line} "
                f"needs Dockerfile syntax {HEREDOCS_SINCE}; the parser of {syntax} reads its lines as instructions",
                line=instruction.line + 1,
            )


def _syntax_for(
    text: str, builder: Builder, syntax: str | DockerfileSyntax | None, assumptions: list[str]
) -> DockerfileSyntax:
    """The syntax the build's parser reads: BuildKit takes a `# syntax=` line's frontend, else the built-in one."""
    builtin = DockerfileSyntax.parse(syntax) if syntax is not None else CURRENT
    frontend = directives(text).get("syntax")
    if frontend is None or builder == "legacy":
        return builtin  # to the legacy builder `# syntax=` is a comment
    chosen = syntax_from_frontend(frontend)
    assumptions.append(
        f"`# syntax={frontend}`: BuildKit pulls that frontend image from a registry and parses the file with it "
        + (
            f"(modelled as Dockerfile syntax {chosen})"
            if chosen is not None
            else f"(a frontend labkit does not know: modelled as Dockerfile syntax {CURRENT})"
        )
    )
    return chosen or CURRENT


def explain(
    text: str,
    target: str | None = None,
    build_args: Mapping[str, str] | None = None,
    *,
    builder: Builder = DEFAULT_BUILDER,
    syntax: str | DockerfileSyntax | None = None,
    platform: str | None = None,
    base_images: Mapping[str, Mapping[str, Any]] | None = None,
    engine: EngineChoice = "auto",
    labels: Mapping[str, str] | None = None,
) -> Explanation:
    """Work out the image `docker build [--target T] [--build-arg K=V] [--label K=V]` would make from `text`.

    `builder` is Docker's builder: "buildkit" (the default since Docker 23.0) or "legacy" (`DOCKER_BUILDKIT=0`, the
    docker SDK). `syntax` is the Dockerfile syntax built into it (default: today's, `builders.CURRENT`; Engine 20.10:
    "1.2"); with BuildKit a `# syntax=docker/dockerfile:1.N` line overrides it. `platform` (default: this machine's)
    fills BuildKit's TARGETARCH and the other platform arguments. `base_images` maps image references to their
    `docker image inspect` Config; other base images are asked of `engine` ("auto": the one DOCKER_HOST or the default
    socket reaches, if any; None: never ask).
    """
    check_builder(builder)
    assumptions: list[str] = []
    build = _Build(builder, _syntax_for(text, builder, syntax, assumptions), platform or host_platform())
    parsed = parse(text)
    instructions = parsed.instructions
    target_index = _target_index(instructions, target)
    _check_syntax(instructions, build.syntax)
    resolver = _BaseImages(given=dict(base_images or {}), engine=engine)
    evaluator = _Evaluator(parsed.escape, build_args or {}, resolver, build)
    outline: list[StagePlan] = []
    needed: set[int] | None = None
    current: _Stage | None = None
    for instruction in instructions:
        if instruction.keyword == "FROM":
            if current is not None:
                evaluator.finish_stage(current)
                if target_index is not None and current.plan.index == target_index:
                    current = None
                    break
            if builder == "buildkit" and needed is None:
                # BuildKit reads every stage's FROM and COPY --from first, then runs only what the target needs.
                outline = _stage_outline(instructions, evaluator.meta_env(), parsed.escape, build.syntax)
                last = target_index if target_index is not None else len(outline) - 1
                needed = _needed_stages(outline, last)
            index = len(evaluator.stages)
            if needed is not None and index not in needed:
                current = evaluator.skip_stage(instruction, outline[index], outline[last])
                continue
            with _at_line(instruction.line):
                current = evaluator.begin_stage(instruction)
        elif current is None:
            if instruction.keyword != "ARG":
                raise DockerfileSyntaxError(
                    f"{instruction.keyword} before the first FROM: only ARG may come before FROM",
                    line=instruction.line,
                )
            with _at_line(instruction.line):
                evaluator.meta_arg(instruction)
        elif not current.skipped:
            with _at_line(instruction.line):
                evaluator.dispatch(current, instruction)
    final = evaluator.stages[-1]
    if current is not None:
        if labels:
            _apply_build_labels(evaluator, current, labels)
        evaluator.finish_stage(current)
    elif labels:
        final.dispatched += 1
        _apply_build_labels(evaluator, final, labels)
        final.final_config = final.config
    if final.plan.base_kind == "scratch" and not final.dispatched and builder == "legacy":
        raise DockerfileError(
            f"No image was generated: the target stage {final.plan.label} is FROM scratch with no instruction "
            "(the legacy builder commits nothing; BuildKit would export an empty image)"
        )
    unused = sorted(k for k in evaluator.build_args if k not in evaluator.consumed_args and k not in BUILTIN_BUILD_ARGS)
    origins = {name: where for name, where in final.origins.items()}
    if not final.dispatched and builder == "legacy":
        origins = {name: f"{where} (the stage adds nothing: the image is its base)" for name, where in origins.items()}
    return Explanation(
        config=final.final_config,
        author=final.author,
        stages=tuple(stage.plan for stage in evaluator.stages),
        target=final.plan.index,
        steps=tuple(evaluator.steps),
        assumptions=tuple(assumptions + resolver.assumptions),
        unused_build_args=tuple(unused),
        origins=origins,
        builder=builder,
        syntax=build.syntax,
    )


def _apply_build_labels(evaluator: _Evaluator, stage: _Stage, labels: Mapping[str, str]) -> None:
    """`docker build --label`: LABEL lines appended to the target stage, values taken as given (no substitution)."""
    merged = dict(stage.config.labels)
    merged.update(labels)
    stage.config = replace(stage.config, labels=merged)
    stage.dispatched += 1
    shown = ", ".join(f"{k}={v!r}" for k, v in labels.items())
    evaluator.steps.append(Step(0, 0, stage.plan.label, f"docker build --label {shown}", f"sets label {shown}"))
