"""Notebook 10's exercise checker: two different correct Dockerfiles pass, wrong ones fail on the case that shows it."""

from __future__ import annotations

from labkit.lab.dockerfiles.exercises import SINGLE_STAGE, SPEC_CASES, check_dockerfile

FROM_SCRATCH = """\
FROM labkit/busybox:static AS build
WORKDIR /work
RUN echo "made in the build stage" > greeting.txt && head -c 20000000 /dev/urandom > leftovers.bin

FROM scratch
COPY --from=build /work/greeting.txt /greeting.txt
COPY --from=labkit/busybox:static /bin/busybox /bin/cat
USER 65534:65534
ENTRYPOINT ["/bin/cat"]
CMD ["/greeting.txt"]
"""

FROM_BUSYBOX = """\
ARG BASE=labkit/busybox:static
FROM ${BASE} AS maker
RUN mkdir /out && echo "made in the build stage" > /out/greeting.txt

FROM labkit/busybox:static AS image
COPY --from=maker /out/greeting.txt /srv/greeting.txt
USER nobody
CMD ["cat", "/srv/greeting.txt"]
"""


def test_two_different_correct_dockerfiles_pass():
    for text in (FROM_SCRATCH, FROM_BUSYBOX):
        verdict = check_dockerfile(text)
        assert verdict.ok, str(verdict)
        assert len(verdict.passed) == len(SPEC_CASES) == 4


def test_the_single_stage_dockerfile_fails_first_on_its_one_stage():
    verdict = check_dockerfile(SINGLE_STAGE)
    assert verdict.failed == "the image carries no build work: a stage of its own, no RUN in it"
    assert "at least two stages" in (verdict.hint or "")


def test_an_image_stage_built_on_the_build_stage_is_refused():
    verdict = check_dockerfile(FROM_SCRATCH.replace("FROM scratch", "FROM build"))
    assert "inherits every layer" in (verdict.hint or "")


def test_a_run_in_the_image_stage_is_named_with_its_line():
    verdict = check_dockerfile(FROM_BUSYBOX.replace("USER nobody", "RUN rm -rf /tmp/*\nUSER nobody"))
    assert verdict.failed == "the image carries no build work: a stage of its own, no RUN in it"
    assert "`RUN rm -rf /tmp/*` (line 7)" in (verdict.hint or "")


def test_root_and_a_shell_form_command_each_fail_on_their_case():
    verdict = check_dockerfile(FROM_BUSYBOX.replace("USER nobody\n", ""))
    assert verdict.failed == "the image runs as a user other than root"
    verdict = check_dockerfile(FROM_BUSYBOX.replace('CMD ["cat", "/srv/greeting.txt"]', "CMD cat /srv/greeting.txt"))
    assert verdict.failed == "docker run IMAGE cats the greeting, with no shell as PID 1"
    assert "exec form" in (verdict.hint or "")


def test_an_unreadable_or_empty_answer_is_named():
    assert "cannot read this Dockerfile" in (check_dockerfile("FROM\n").hint or "")
    assert "give the Dockerfile's text" in (check_dockerfile("").hint or "")


def test_two_different_run_argument_lists_pass():
    from labkit.lab.dockerfiles.exercises import RUN_CASES, check_run_args

    for args in (["order", "--port", "9000", "--log-level", "DEBUG"], ["--log-level=debug", "order", "--port=9000"]):
        verdict = check_run_args(args)
        assert verdict.ok, str(verdict)
        assert len(verdict.passed) == len(RUN_CASES) == 5


def test_wrong_run_arguments_fail_on_the_case_that_shows_it():
    from labkit.lab.dockerfiles.exercises import check_run_args

    repeated = check_run_args(["python3", "-m", "labkit.services", "order", "--port", "9000"])
    assert repeated.failed == "the container's command line parses as the service's own"
    assert "invalid choice: 'python3'" in (repeated.hint or "")
    assert check_run_args(["order", "--port", "9000"]).failed == "it logs at DEBUG"
    loopback = check_run_args(["order", "--port", "9000", "--log-level", "DEBUG", "--host", "127.0.0.1"])
    assert loopback.failed == "it listens on every interface of the container, so a published port reaches it"
    assert "(it gets host='127.0.0.1')" in (loopback.hint or "")
    assert "list of strings" in (check_run_args("order --port 9000").hint or "")
