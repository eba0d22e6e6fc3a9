"""Notebooks 12 and 13's exercise checkers, with the real helm: two different correct answers pass each, wrong ones
fail on the case that shows it."""

from __future__ import annotations

import time

from labkit.lab.kubernetes.chart_exercises import TEMPLATE_CASES, VALUES_CASES, check_template, check_values

STAGING_FILE = """\
config:
  logLevel: DEBUG
image:
  tag: "0.2.0"
services:
  history:
    replicaCount: 3
    persistence:
      enabled: false
ingress:
  enabled: true
  className: nginx
  host: staging.example.org
"""

STAGING_MAPPING = {
    "replicaCount": 3,
    "image": {"repository": "labkit/services", "tag": "0.2.0", "pullPolicy": "Always"},
    "config": {"logLevel": "DEBUG", "feedBatchSize": 200},
    "services": {
        "customer": {"replicaCount": 1},
        "order": {"replicaCount": 1},
        "history": {"persistence": {"enabled": False}},
    },
    "ingress": {"enabled": True, "className": "nginx", "host": "staging.example.org", "annotations": {"team": "shop"}},
}


def test_two_different_correct_value_overrides_pass_every_case():
    for answer in (STAGING_FILE, STAGING_MAPPING):
        started = time.perf_counter()
        verdict = check_values(answer)
        assert verdict.ok, str(verdict)
        assert len(verdict.passed) == len(VALUES_CASES) == 6
        assert time.perf_counter() - started < 5  # one helm render per check


def test_three_history_pods_on_one_claim_fail_first_with_the_charts_own_reason():
    verdict = check_values(STAGING_FILE.replace("      enabled: false\n", "      enabled: true\n"))
    assert verdict.failed == VALUES_CASES[0].name
    assert "services.history has 3 replicas on one database volume" in (verdict.hint or "")
    assert verdict.passed == []


def test_a_value_the_schema_refuses_and_a_missing_setting_each_fail_on_their_case():
    verdict = check_values(STAGING_FILE.replace("logLevel: DEBUG", "logLevel: LOUD"))
    assert verdict.failed == VALUES_CASES[0].name
    assert "config.logLevel: value must be one of" in (verdict.hint or "")
    verdict = check_values(STAGING_FILE.replace("  className: nginx\n", ""))
    assert verdict.failed == "the order service answers at order.staging.example.org through an nginx Ingress"
    verdict = check_values({**STAGING_MAPPING, "replicaCount": 1})
    assert verdict.failed == "the history view runs 3 pods"
    assert "runs 1 pod(s), not 3" in (verdict.hint or "")


def test_answers_that_are_not_values_are_refused_in_one_line():
    assert check_values("image: [tag").failed == "the answer"
    assert "give the values as a mapping" in (check_values(["replicaCount=2"]).hint or "")  # type: ignore[arg-type]


WITH_HELPERS = """\
{{- range $name, $service := .Values.services }}
{{- $ctx := dict "root" $ "name" $name "service" $service }}
{{- if and $service.enabled (gt (int (include "labkit.replicas" $ctx)) 1) }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "labkit.componentName" $ctx }}
  labels:
    {{- include "labkit.componentLabels" $ctx | nindent 4 }}
spec:
  minAvailable: 1
  selector:
    matchLabels:
      {{- include "labkit.componentSelectorLabels" $ctx | nindent 6 }}
{{- end }}
{{- end }}
"""

BY_HAND = """\
{{- range $name, $service := .Values.services }}
{{- $replicas := $service.replicaCount | default $.Values.replicaCount | int }}
{{- if and $service.enabled (ge $replicas 2) }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ printf "%s-%s" (include "labkit.fullname" $) $name }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/instance: {{ $.Release.Name }}
      app.kubernetes.io/component: {{ $name }}
{{- end }}
{{- end }}
"""


def test_two_different_correct_templates_pass_every_case_in_a_few_seconds():
    for text in (WITH_HELPERS, BY_HAND):
        started = time.perf_counter()
        verdict = check_template(text)
        assert verdict.ok, str(verdict)
        assert len(verdict.passed) == len(TEMPLATE_CASES) == 5
        assert time.perf_counter() - started < 5  # lint and two renders


def test_a_budget_for_every_service_fails_on_the_single_pod_case():
    verdict = check_template(WITH_HELPERS.replace('(gt (int (include "labkit.replicas" $ctx)) 1)', "true"))
    assert verdict.failed == "one pod per service (the defaults): no PodDisruptionBudget"
    assert "['shop-labkit-customer', 'shop-labkit-history', 'shop-labkit-order']" in (verdict.hint or "")


def test_a_selector_on_the_release_alone_fails_naming_every_deployment_it_picks():
    verdict = check_template(BY_HAND.replace("      app.kubernetes.io/component: {{ $name }}\n", ""))
    assert verdict.failed == "its selector picks the history pods and no others"
    assert "shop-labkit-customer" in (verdict.hint or "")


def test_a_broken_template_and_a_budget_that_lets_no_pod_go_each_fail_on_their_case():
    verdict = check_template(WITH_HELPERS.replace("{{- end }}\n{{- end }}\n", "{{- end }}\n"))
    assert verdict.failed == TEMPLATE_CASES[0].name
    assert (verdict.hint or "").startswith("helm lint --strict fails:")
    verdict = check_template(WITH_HELPERS.replace("minAvailable: 1", "minAvailable: 3"))
    assert verdict.failed == "it keeps at least one pod up and lets at least one go"
    assert check_template("").failed == "the answer"


def test_a_misspelled_field_in_the_budget_fails_the_strict_schema_naming_it():
    verdict = check_template(WITH_HELPERS.replace("minAvailable: 1", "minAvailible: 1"))
    assert verdict.failed == TEMPLATE_CASES[0].name
    assert "PodDisruptionBudget/shop-labkit-history" in (verdict.hint or "")
    assert "spec.minAvailible" in (verdict.hint or "")
