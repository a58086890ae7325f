"""The worker's alerts, declared once, on the metrics it exports (``service/metrics.py``).

The original system's thresholds: every system failing, 5xx above 5%, no prediction written,
one breaker open, agreement below 80%. From ``ALERTS`` come the Prometheus alerting rules
(``deploy/prometheus/kcast-alerts.yml``) and the Cloud Monitoring alert policies
(``deploy/monitoring/*.json``, PromQL conditions, created by ``deploy/deploy.sh alerts``);
``python -m kcast.alerts`` rewrites both, and a test keeps them in step with this module.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from kcast import policy

GROUP = "kcast"
ERROR_SHARE = 0.05  # 5xx answers above this share of requests
NO_PREDICTIONS_SECONDS = 24 * 3600  # no prediction stored for this long


@dataclass(frozen=True)
class Alert:
    """One alerting rule: fires when ``expr`` has held for ``minutes``."""

    name: str
    severity: str  # critical or warning
    expr: str
    minutes: int
    summary: str


ALERTS: tuple[Alert, ...] = (
    Alert(
        "KcastAllSystemsFailing",
        "critical",
        "min by (job, instance) (kcast_breaker_state) == 2",
        1,
        "Every prediction system's breaker is open: the worker answers no prediction.",
    ),
    Alert(
        "KcastHighErrorRate",
        "critical",
        'sum by (job) (rate(kcast_request_latency_seconds_count{status=~"5.."}[5m]))'
        " / sum by (job) (rate(kcast_request_latency_seconds_count[5m]))"
        f" > {ERROR_SHARE:g}",
        5,
        f"More than {ERROR_SHARE:.0%} of the worker's answers are 5xx errors.",
    ),
    Alert(
        "KcastNoPredictionsWritten",
        "critical",
        "time() - max by (job) (kcast_predictions_newest_stored_timestamp_seconds)"
        f" > {NO_PREDICTIONS_SECONDS}",
        15,
        "No prediction was stored in the warehouse for 24 hours (kcast daily, kcast predict or "
        "/predict-batch); expected outside the season.",
    ),
    Alert(
        "KcastBreakerOpen",
        "warning",
        "max by (job, instance, system) (kcast_breaker_state) == 2",
        1,
        "A system's breaker is open (label system): its calls are refused, the others answer.",
    ),
    Alert(
        "KcastLowAgreement",
        "warning",
        f"max by (job) (kcast_agreement_share) < {policy.AGREEMENT_WARN_SHARE:g}",
        15,
        f"Under {policy.AGREEMENT_WARN_SHARE:.0%} of the latest date's pitchers have systems "
        f"agreeing within {policy.DISAGREE_OVER:g} K (kcast query agreement_today).",
    ),
)

PROMETHEUS_RULES = Path("deploy/prometheus/kcast-alerts.yml")
CLOUD_MONITORING = Path("deploy/monitoring")


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is YAML's)."""
    return json.dumps(text)


def prometheus_rules() -> str:
    """The Prometheus alerting rules file."""
    lines = [
        "# Generated from src/kcast/alerts.py by `python -m kcast.alerts`: edit that, not this.",
        "# Checked by `promtool check rules` and proven by `promtool test rules` on",
        "# deploy/prometheus/kcast-alerts.test.yml (tests/integration/test_alerts.py).",
        "groups:",
        f"  - name: {GROUP}",
        "    rules:",
    ]
    for alert in ALERTS:
        lines += [
            f"      - alert: {alert.name}",
            f"        expr: {_q(alert.expr)}",
            f"        for: {alert.minutes}m",
            "        labels:",
            f"          severity: {alert.severity}",
            "        annotations:",
            f"          summary: {_q(alert.summary)}",
        ]
    return "\n".join(lines) + "\n"


def cloud_monitoring_policy(alert: Alert) -> dict:
    """A Cloud Monitoring alert policy with the rule as its PromQL condition."""
    seconds = f"{alert.minutes * 60}s"
    return {
        "displayName": f"kcast: {alert.name}",
        "documentation": {
            "content": alert.summary,
            "mimeType": "text/markdown",
        },
        "userLabels": {"app": "kcast", "severity": alert.severity},
        "severity": alert.severity.upper(),
        "combiner": "OR",
        "conditions": [
            {
                "displayName": alert.name,
                "conditionPrometheusQueryLanguage": {
                    "query": alert.expr,
                    "duration": seconds,
                    "evaluationInterval": "60s",
                    "alertRule": alert.name,
                    "ruleGroup": GROUP,
                    "labels": {"severity": alert.severity},
                },
            }
        ],
    }


def rendered() -> dict[Path, str]:
    """Every generated file, by its path in the repository."""
    files = {PROMETHEUS_RULES: prometheus_rules()}
    for alert in ALERTS:
        text = json.dumps(cloud_monitoring_policy(alert), indent=2) + "\n"
        files[CLOUD_MONITORING / f"{alert.name}.json"] = text
    return files


def write(root: Path) -> list[Path]:
    """Write every generated file under the repository ``root``; return their paths."""
    for path, text in rendered().items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return [root / path for path in rendered()]


if __name__ == "__main__":  # python -m kcast.alerts [REPOSITORY]
    for written in write(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        print(written)
