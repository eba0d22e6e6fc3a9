"""The release ledger models helm install/upgrade/rollback/uninstall revision by revision, with real renders."""

from __future__ import annotations

import pytest

from labkit.charts.errors import LedgerError, ValuesRejectedError
from labkit.charts.ledger import DEPLOYED, SUPERSEDED, UNINSTALLED, ReleaseLedger, merged, nested

pytestmark = pytest.mark.helm


@pytest.fixture
def ledger(helm) -> ReleaseLedger:
    return ReleaseLedger("shop", helm=helm)


def replicas(revision, name="order"):
    return revision.manifest.get("Deployment", f"shop-labkit-{name}").body["spec"]["replicas"]


def test_nested_and_merged_follow_helms_value_rules():
    assert nested({"a.b": 1, "a.c": 2, "d": 3}) == {"a": {"b": 1, "c": 2}, "d": 3}
    assert merged({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"b": 9}, "l": [2]}) == {"a": {"b": 9, "c": 2}, "l": [2]}


def test_install_upgrade_rollback_make_growing_revisions(ledger):
    ledger.install()
    ledger.upgrade({"services.order.replicaCount": 0})
    rolled = ledger.rollback()
    history = ledger.history()
    assert history["revision"].tolist() == [1, 2, 3]
    assert history["status"].tolist() == [SUPERSEDED, SUPERSEDED, DEPLOYED]
    assert history["description"].tolist() == ["Install complete", "Upgrade complete", "Rollback to 1"]
    assert rolled.command == "helm rollback shop 1 -n labkit"
    assert (
        history["command"][1] == "helm upgrade shop docker/chart/labkit -n labkit --set services.order.replicaCount=0"
    )
    assert [replicas(ledger.revision(n)) for n in (1, 2, 3)] == [1, 0, 1]
    assert ledger.diff(1, 3).text() == "no differences"
    assert ledger.diff(1, 2).text().splitlines() == ["Deployment/shop-labkit-order: spec.replicas 1 -> 0"]


def test_upgrade_with_new_values_starts_from_the_defaults(ledger):
    ledger.install({"config.logLevel": "DEBUG"})
    fresh = ledger.upgrade({"image.tag": "0.2.0"})
    assert fresh.values == {"image": {"tag": "0.2.0"}}
    assert fresh.manifest.get("ConfigMap", "shop-labkit-config").body["data"]["LABKIT_LOG_LEVEL"] == "INFO"
    reused = ledger.upgrade({"config.logLevel": "ERROR"}, reuse_values=True)
    assert reused.values == {"image": {"tag": "0.2.0"}, "config": {"logLevel": "ERROR"}}
    kept = ledger.upgrade()
    assert kept.values == reused.values
    reset = ledger.upgrade(reset_values=True)
    assert reset.values == {}


def test_a_refused_upgrade_leaves_the_history_unchanged(ledger):
    ledger.install()
    with pytest.raises(ValuesRejectedError, match="replicaCount"):
        ledger.upgrade({"replicaCount": "abc"})
    assert ledger.history()["revision"].tolist() == [1]
    assert ledger.current.status == DEPLOYED


def test_uninstall_keeps_history_and_blocks_further_upgrades(ledger):
    ledger.install()
    ledger.uninstall()
    assert ledger.current.status == UNINSTALLED
    with pytest.raises(LedgerError, match="uninstalled"):
        ledger.upgrade()
    with pytest.raises(LedgerError, match="already uninstalled"):
        ledger.uninstall()
    with pytest.raises(LedgerError, match="already has revision 1"):
        ledger.install()


def test_mistakes_get_clear_errors(ledger):
    with pytest.raises(LedgerError, match="install it first"):
        ledger.upgrade()
    ledger.install()
    with pytest.raises(LedgerError, match="nothing to roll back to"):
        ledger.rollback()
    with pytest.raises(LedgerError, match="no revision 7; its revisions are 1"):
        ledger.rollback(7)


def test_get_values_returns_a_copy(ledger):
    ledger.install({"ingress.enabled": True})
    values = ledger.get_values()
    values["ingress"]["enabled"] = False
    assert ledger.get_values(1) == {"ingress": {"enabled": True}}
