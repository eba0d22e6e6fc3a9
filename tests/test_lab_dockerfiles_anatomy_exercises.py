"""Notebook 08's exercise checker: two different correct Dockerfiles pass, wrong ones fail on the case that shows it."""

from __future__ import annotations

from labkit.lab.dockerfiles.anatomy_exercises import ENTRYPOINT_CASES, check_entrypoint

WORKDIR_ANSWER = """\
FROM labkit/python:3.11-bookworm
WORKDIR /srv/app
COPY app.py .
USER 10001
ENTRYPOINT ["python3", "app.py"]
CMD ["--port", "8000"]
"""

ABSOLUTE_ANSWER = """\
FROM labkit/python:3.11-bookworm
COPY --chown=10001:10001 app.py /opt/service/app.py
USER 10001:10001
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/python3", "-u", "/opt/service/app.py"]
CMD ["--port", "8000"]
"""


def test_two_different_correct_dockerfiles_pass_every_case():
    for text in (WORKDIR_ANSWER, ABSOLUTE_ANSWER):
        verdict = check_entrypoint(text)
        assert verdict.ok, str(verdict)
        assert len(verdict.passed) == len(ENTRYPOINT_CASES) == 6


def test_the_whole_command_in_cmd_fails_when_run_arguments_replace_it():
    text = WORKDIR_ANSWER.replace('ENTRYPOINT ["python3", "app.py"]\nCMD ["--port", "8000"]', "").rstrip()
    verdict = check_entrypoint(text + '\nCMD ["python3", "app.py", "--port", "8000"]\n')
    assert verdict.failed == "docker run IMAGE --port 9000 runs app.py --port 9000"
    assert "replace CMD, so the program belongs in ENTRYPOINT" in (verdict.hint or "")
    assert len(verdict.passed) == 3


def test_a_shell_form_entrypoint_fails_on_pid_1_naming_the_shell():
    verdict = check_entrypoint(WORKDIR_ANSWER.replace('ENTRYPOINT ["python3", "app.py"]', "ENTRYPOINT python3 app.py"))
    assert verdict.failed == "docker run IMAGE: python3 is PID 1, no shell in between"
    assert "['/bin/sh', '-c', 'python3 app.py', '--port', '8000']" in (verdict.hint or "")


def test_an_entrypoint_without_cmd_loses_the_default_port():
    verdict = check_entrypoint(WORKDIR_ANSWER.replace('CMD ["--port", "8000"]\n', ""))
    assert verdict.failed == "docker run IMAGE runs app.py --port 8000"
    assert "it gives []" in (verdict.hint or "")


def test_stop_signal_root_and_a_missing_copy_each_fail_on_their_case():
    verdict = check_entrypoint(ABSOLUTE_ANSWER.replace("STOPSIGNAL SIGTERM", "STOPSIGNAL SIGKILL"))
    assert verdict.failed == "docker stop sends SIGTERM, the signal app.py handles"
    verdict = check_entrypoint(WORKDIR_ANSWER.replace("USER 10001\n", ""))
    assert verdict.failed == "the container runs as a user other than root"
    verdict = check_entrypoint(WORKDIR_ANSWER.replace("COPY app.py .\n", ""))
    assert verdict.failed == "the image holds app.py, copied from the build context"


def test_a_dockerfile_docker_refuses_is_a_failed_case_not_a_traceback():
    verdict = check_entrypoint(WORKDIR_ANSWER.replace("USER", "USR"))
    assert verdict.failed == "docker run IMAGE: python3 is PID 1, no shell in between"
    assert (verdict.hint or "").startswith("Docker would refuse this Dockerfile: line 4: unknown instruction: USR")
    assert check_entrypoint("").failed == "the answer"
