"""The alerting rules: generated from ``kcast.alerts``, checked by ``promtool check rules``,
proven by ``promtool test rules`` on series that fire and series that do not, and written on
metrics a real worker exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from kcast import alerts, policy
from tests.conftest import REPO

RULES = REPO / alerts.PROMETHEUS_RULES
RULE_TESTS = RULES.with_name("kcast-alerts.test.yml")


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    program = shutil.which("promtool")
    assert program, "promtool is missing: apt-get install prometheus (.ci/run installs it)"
    return subprocess.run([program, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_deploy_files_are_generated_from_kcast_alerts() -> None:
    for path, text in alerts.rendered().items():
        assert (REPO / path).read_text() == text, f"{path} is stale: run `python -m kcast.alerts`"
    policies = sorted(p.name for p in (REPO / alerts.CLOUD_MONITORING).glob("*.json"))
    assert policies == sorted(f"{a.name}.json" for a in alerts.ALERTS)


def test_the_thresholds_are_the_original_systems() -> None:
    expr = {a.name: a.expr for a in alerts.ALERTS}
    assert expr["KcastHighErrorRate"].endswith("> 0.05")
    assert expr["KcastLowAgreement"].endswith(f"< {policy.AGREEMENT_WARN_SHARE:g}")
    assert policy.AGREEMENT_WARN_SHARE == 0.8
    assert expr["KcastAllSystemsFailing"].startswith("min ")  # every breaker open
    assert expr["KcastBreakerOpen"].startswith("max ")  # any one breaker open
    assert [a.severity for a in alerts.ALERTS].count("critical") == 3


def test_promtool_checks_the_rules() -> None:
    result = promtool("check", "rules", str(RULES), cwd=REPO)
    print(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts.ALERTS)} rules found" in result.stdout


def test_promtool_proves_each_alert_fires_and_stays_quiet(tmp_path: Path) -> None:
    result = promtool("test", "rules", RULE_TESTS.name, cwd=RULES.parent)
    print(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    # the same tests fail on rules with other thresholds: they prove the numbers
    for old, new in (("> 0.05", "> 0.1"), ("< 0.8", "< 0.9"), ("> 86400", "> 172800")):
        shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
        (tmp_path / RULES.name).write_text(RULES.read_text().replace(old, new))
        changed = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
        assert changed.returncode != 0, f"the rule tests pass with {new} instead of {old}"


def test_every_metric_in_the_rules_is_exported_by_a_real_worker(service_factory) -> None:
    server, _ = service_factory()
    httpx.post(
        f"{server.url}/predict", json={"pitcher_id": 453281, "game_date": "2019-07-13"}, timeout=120
    )
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    exported = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    used = set()
    for alert in alerts.ALERTS:
        used |= set(re.findall(r"\bkcast_[a-z0-9_]+", alert.expr))
    assert used, "the rules name no kcast metric"
    assert used <= exported, f"not exported by the worker: {sorted(used - exported)}"
