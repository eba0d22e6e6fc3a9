"""Notebook 11's exercise checker: two different correct Services pass, wrong ones fail on the case that shows it."""

from __future__ import annotations

from labkit.lab.kubernetes.exercises import SERVICE_CASES, check_service

FULL_SELECTOR = """\
apiVersion: v1
kind: Service
metadata:
  name: order-debug
spec:
  type: NodePort
  selector:
    app.kubernetes.io/name: labkit
    app.kubernetes.io/instance: shop
    app.kubernetes.io/component: order
  ports:
    - name: http
      port: 80
      targetPort: http
      nodePort: 30080
"""

COMPONENT_ONLY = """\
kind: Service
apiVersion: v1
metadata: {name: order-debug, labels: {purpose: debugging}}
spec:
  type: NodePort
  selector: {app.kubernetes.io/component: order}
  ports: [{port: 80, targetPort: 8000, nodePort: 30080, protocol: TCP}]
"""


def test_two_different_correct_services_pass_every_case():
    for text in (FULL_SELECTOR, COMPONENT_ONLY):
        verdict = check_service(text)
        assert verdict.ok, str(verdict)
        assert len(verdict.passed) == len(SERVICE_CASES) == 4


def test_a_selector_shared_by_every_service_fails_naming_the_deployments_it_picks():
    verdict = check_service(FULL_SELECTOR.replace("    app.kubernetes.io/component: order\n", ""))
    assert verdict.failed == "its selector picks the pods of shop-labkit-order and no others"
    assert "['shop-labkit-customer', 'shop-labkit-history', 'shop-labkit-order']" in (verdict.hint or "")
    assert len(verdict.passed) == 2


def test_a_target_port_where_nothing_listens_fails_with_the_right_number():
    verdict = check_service(COMPONENT_ONLY.replace("targetPort: 8000", "targetPort: 80"))
    assert verdict.failed == "port 80 forwards to the order container's port, on node port 30080"
    assert "give its number (8000) or its port's name (http)" in (verdict.hint or "")


def test_a_misspelled_field_and_a_cluster_ip_each_fail_on_their_case():
    verdict = check_service(FULL_SELECTOR.replace("nodePort:", "nodeport:"))
    assert verdict.failed == "a valid Kubernetes object for 1.25 and 1.37 (strict)"
    assert "spec.ports[0].nodeport" in (verdict.hint or "")
    verdict = check_service(FULL_SELECTOR.replace("type: NodePort", "type: ClusterIP").replace("nodePort: 30080", ""))
    assert verdict.failed == "a NodePort Service named order-debug"


def test_text_that_is_not_yaml_is_a_failed_case_not_a_traceback():
    verdict = check_service("kind: Service\n  name: [order")
    assert verdict.failed == "a valid Kubernetes object for 1.25 and 1.37 (strict)"
    assert (verdict.hint or "").startswith("this is not YAML")
    assert check_service("   ").failed == "the answer"
