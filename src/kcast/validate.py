"""``kcast validate``: check a running prediction worker end to end, over HTTP.

The checks, in order:

1. health: /health answers, the warehouse is reachable, and every expected system is loaded
   with its breaker closed;
2. one /predict per expected system: a known pitcher-game of the date (from /slate) gets an
   answer from each system;
3. batch: /predict-batch of the date writes rows, every expected system's;
4. coverage: every starter of the batch has a row from every expected system, written by this
   batch (/picks, ``created_at`` not before the batch);
5. agreement: for each starter, the spread (max - min) of the predicted strikeouts of the
   systems other than the primary one (``MLB_PRIMARY_SYSTEM``, by default the ensemble, which
   blends the others); banded by ``policy.agreement_band`` (strong up to ``AGREE_WITHIN``,
   moderate up to ``DISAGREE_OVER``, weak above); the check passes when the strong and moderate
   share reaches ``min_agreement`` (default ``policy.AGREEMENT_MIN_SHARE``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import httpx

from kcast import policy
from kcast.config import get_settings


@dataclass
class Check:
    """One check's result."""

    name: str
    ok: bool
    detail: str


@dataclass
class ValidationReport:
    """Every check's result; ``ok`` when all passed."""

    service_url: str
    date: dt.date
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> Check:
        check = Check(name, ok, detail)
        self.checks.append(check)
        return check

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"detail": response.text[:200]}


def _problem(response: httpx.Response) -> str:
    body = _json(response)
    detail = body.get("detail", body) if isinstance(body, dict) else body
    return f"HTTP {response.status_code}: {detail}"


def check_health(client: httpx.Client, report: ValidationReport, expected: list[str]) -> None:
    """Every expected system loaded, breaker closed; the warehouse answers."""
    response = client.get("/health")
    if response.status_code != 200:
        report.add("health", False, _problem(response))
        return
    body = response.json()
    problems = []
    if not body.get("warehouse_ok"):
        problems.append("warehouse unreachable")
    systems = body.get("systems", {})
    for system_id in expected:
        info = systems.get(system_id)
        if info is None:
            problems.append(f"{system_id}: not active in the service")
        elif not info.get("loaded"):
            problems.append(f"{system_id}: failed to load ({info.get('last_error')})")
        elif info.get("breaker_state") != "closed":
            problems.append(
                f"{system_id}: breaker {info.get('breaker_state')} after "
                f"{info.get('failure_count')} failures ({info.get('last_error')})"
            )
    detail = "; ".join(problems) or (
        f"status {body.get('status')}, {len(expected)} systems loaded, breakers closed"
    )
    report.add("health", not problems, detail)


def check_predict(
    client: httpx.Client, report: ValidationReport, expected: list[str], starter: dict[str, Any]
) -> None:
    """One /predict for a known pitcher-game; each expected system must answer."""
    game = {"pitcher_id": starter["pitcher_id"], "game_date": str(report.date)}
    response = client.post("/predict", json=game)
    label = f"{starter.get('pitcher_name') or starter['pitcher_id']} ({starter['game_id']})"
    if response.status_code != 200:
        for system_id in expected:
            report.add(f"predict: {system_id}", False, f"{label}: {_problem(response)}")
        return
    body = response.json()
    systems = body.get("systems", {})
    for system_id in expected:
        answer = systems.get(system_id) or {"status": "missing", "error": "not in the answer"}
        if answer.get("status") == "ok":
            report.add(
                f"predict: {system_id}",
                True,
                f"{label}: {answer['predicted_strikeouts']:.2f} K, {answer['recommendation']}",
            )
        else:
            report.add(
                f"predict: {system_id}",
                False,
                f"{system_id} {answer.get('status')} for {label}: {answer.get('error')}",
            )


def check_batch(
    client: httpx.Client, report: ValidationReport, expected: list[str]
) -> dict[str, Any] | None:
    """/predict-batch of the date writes rows from every expected system."""
    response = client.post("/predict-batch", json={"date": str(report.date)})
    if response.status_code != 200:
        report.add("batch", False, _problem(response))
        return None
    body = response.json()
    rows = body.get("rows_written", {})
    problems = []
    if not body.get("starters"):
        problems.append(body.get("note") or "no starters")
    for system_id in expected:
        if not rows.get(system_id):
            run = body.get("systems", {}).get(system_id, {})
            problems.append(
                f"{system_id} wrote no rows ({run.get('status', 'not run')}: {run.get('error')})"
            )
    detail = "; ".join(problems) or (
        f"{body['total_rows_written']} rows for {len(body['starters'])} starters "
        f"in {body['seconds']:.2f}s"
    )
    report.add("batch", not problems, detail)
    return body


def _stamp(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)


def check_coverage(
    client: httpx.Client, report: ValidationReport, expected: list[str], batch: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every starter of the batch has a fresh row from every expected system."""
    response = client.get("/picks", params={"date": str(report.date)})
    if response.status_code != 200:
        report.add("coverage", False, _problem(response))
        return []
    since = _stamp(batch["predicted_at"])
    picks = [p for p in response.json()["picks"] if _stamp(p["created_at"]) >= since]
    have = {(p["game_id"], p["pitcher_id"], p["system_id"]) for p in picks}
    missing: dict[str, int] = {}
    for starter in batch["starters"]:
        for system_id in expected:
            if (starter["game_id"], starter["pitcher_id"], system_id) not in have:
                missing[system_id] = missing.get(system_id, 0) + 1
    n = len(batch["starters"])
    if missing:
        detail = "; ".join(f"{s}: {k} of {n} starters without a row" for s, k in missing.items())
    else:
        detail = f"{n} starters x {len(expected)} systems"
    report.add("coverage", not missing and n > 0, detail)
    return picks


def check_agreement(
    report: ValidationReport,
    expected: list[str],
    picks: list[dict[str, Any]],
    min_agreement: float,
    primary: str | None = None,
) -> None:
    """The other systems' predictions agree (strong or moderate spread) for enough starters;
    ``primary`` (default: ``MLB_PRIMARY_SYSTEM``) is left out of the comparison."""
    if primary is None:
        primary = get_settings().primary_system
    members = [s for s in expected if s != primary]
    by_pitcher: dict[tuple[str, int], list[float]] = {}
    for pick in picks:
        if pick["system_id"] in members:
            key = (pick["game_id"], pick["pitcher_id"])
            by_pitcher.setdefault(key, []).append(float(pick["predicted_strikeouts"]))
    spreads = [max(v) - min(v) for v in by_pitcher.values() if len(v) == len(members)]
    if len(members) < 2:
        report.add("agreement", True, "one member system: nothing to compare")
        return
    if not spreads:
        report.add("agreement", False, "no starter has an answer from every member system")
        return
    bands = [policy.agreement_band(s) for s in spreads]
    strong, moderate = bands.count("strong"), bands.count("moderate")
    share = (strong + moderate) / len(spreads)
    detail = (
        f"{strong} strong (<={policy.AGREE_WITHIN:g} K), {moderate} moderate, "
        f"{bands.count('weak')} weak (>{policy.DISAGREE_OVER:g} K) of {len(spreads)}; "
        f"max spread {max(spreads):.2f} K; agreeing {share:.0%} (need {min_agreement:.0%})"
    )
    report.add("agreement", share >= min_agreement, detail)


def validate_service(
    service_url: str,
    date: dt.date,
    systems: list[str] | None = None,
    min_agreement: float = policy.AGREEMENT_MIN_SHARE,
    timeout: float = 120.0,
    client: httpx.Client | None = None,
) -> ValidationReport:
    """Run every check against the worker at ``service_url`` for ``date``'s slate."""
    report = ValidationReport(service_url, date)
    own = client is None
    client = client or httpx.Client(base_url=service_url.rstrip("/"), timeout=timeout)
    try:
        try:
            listed = client.get("/systems")
        except httpx.HTTPError as exc:
            report.add("reachable", False, f"{service_url}: {type(exc).__name__}: {exc}")
            return report
        if listed.status_code != 200:
            report.add("reachable", False, _problem(listed))
            return report
        expected = systems or [s["system_id"] for s in listed.json() if s["active"]]
        check_health(client, report, expected)
        slate = client.get("/slate", params={"date": str(date)})
        starters = slate.json().get("starters", []) if slate.status_code == 200 else []
        if not starters:
            report.add("slate", False, f"no starters known for {date}: {_problem(slate)}")
            return report
        check_predict(client, report, expected, starters[0])
        batch = check_batch(client, report, expected)
        if batch is None or not batch.get("starters"):
            return report
        picks = check_coverage(client, report, expected, batch)
        check_agreement(report, expected, picks, min_agreement)
    except httpx.HTTPError as exc:
        report.add("reachable", False, f"{service_url}: {type(exc).__name__}: {exc}")
    finally:
        if own:
            client.close()
    return report
