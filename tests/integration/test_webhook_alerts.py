"""Webhook alerts (``kcast.webhook_alerts``) against real HTTP receivers on loopback: a new bet, a
lineup that changes a bet, a scratch, a price move; Slack, Discord and plain JSON; each alert
once; a receiver that fails is retried within a bounded time, reported, and sent to by the next
run; the daily job's step and the worker's background send."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from kcast.config import Settings
from kcast.daily import Skip, _alerts
from kcast.warehouse import open_warehouse
from kcast.webhook_alerts import LINEUP, NEW_BET, PRICE_MOVE, SCRATCHED, Webhook, notify_day
from tests.webhook_receiver import Receiver


@pytest.fixture
def wh(backtest_warehouse: Path, tmp_path: Path):
    """A copy of the 2022 backtest warehouse: graded predictions and the ledger's picks, taken
    as bets as with the edge gate off (the backtest's gate keeps its rules leans: none has the
    graded picks a live rule needs), which is how ``settings`` runs."""
    path = tmp_path / "alerts.duckdb"
    shutil.copy(backtest_warehouse, path)
    warehouse = open_warehouse(str(path))
    warehouse.execute("UPDATE bets SET status = 'bet' WHERE strategy = 'ev'")
    yield warehouse
    warehouse.close()


def busiest_day(wh) -> tuple[dt.date, pd.DataFrame]:  # noqa: ANN001
    """The day with the most ensemble_v1 bets of the ev strategy, and those bets."""
    bets = wh.query("SELECT * FROM bets WHERE system_id = 'ensemble_v1' AND strategy = 'ev'")
    day = pd.Timestamp(bets["game_date"].value_counts().index[0]).date()
    return day, bets[pd.to_datetime(bets["game_date"]).dt.date == day].reset_index(drop=True)


def settings(wh, *hooks: str, timeout: float = 2.0) -> Settings:  # noqa: ANN001
    return Settings(
        _env_file=None,
        warehouse=wh.url,
        webhooks=",".join(hooks),
        webhook_timeout=timeout,
        decision_time="open",
        primary_system="ensemble_v1",
        edge_gate="off",
    )


def test_each_new_bet_goes_once_to_slack_discord_and_json(wh) -> None:
    day, bets = busiest_day(wh)
    assert len(bets) >= 3
    with Receiver() as slack, Receiver() as discord, Receiver() as plain:
        s = settings(wh, f"slack:{slack.url}", f"discord:{discord.url}", plain.url)
        first = notify_day(wh, day, s)
        assert first.ok and first.sent == 3 * first.found and first.already == 0
        news = [b for b in plain.taken() if b["event"] == NEW_BET]
        assert len(news) == len(bets)
        assert {(b["pitcher_id"], b["side"], b["line"]) for b in news} == set(
            zip(bets["pitcher_id"], bets["side"], bets["line"], strict=True)
        )
        one = news[0]
        assert {"pitcher", "book", "odds", "stake_units", "stake_money", "record"} <= set(one)
        assert one["text"].startswith(f"New bet {day}: ")
        # Slack takes {"text": ...}, Discord {"content": ...}: the same sentences
        assert [b["text"] for b in slack.taken()] == [b["text"] for b in plain.taken()]
        assert [b["content"] for b in discord.taken()] == [b["text"] for b in plain.taken()]
        # each alert once: a second run sends nothing new
        again = notify_day(wh, day, s)
        assert again.sent == 0 and again.already == 3 * first.found
        assert len(plain.bodies) == first.found
    stored = wh.query("SELECT webhook, status FROM alerts_sent")
    assert set(stored["status"]) == {"sent"} and stored["webhook"].nunique() == 3
    assert not wh.query("SELECT * FROM alerts_sent WHERE fields LIKE '%secret-token%'").shape[0]


def test_a_failing_webhook_is_retried_bounded_reported_and_sent_by_the_next_run(wh) -> None:
    day, _ = busiest_day(wh)
    with Receiver([500]) as broken, Receiver() as fine:
        s = settings(wh, broken.url, fine.url, timeout=1.0)
        started = time.monotonic()
        report = notify_day(wh, day, s)
        took = time.monotonic() - started
        # the good webhook got everything; the broken one was tried 3 times for the first
        # alert, then given up for the run: the job was not held up
        assert len(fine.taken()) == report.found > 0
        assert len(broken.bodies) == 3 and took < 10
        assert not report.ok and len(report.failed) == 1
        assert "json webhook at 127.0.0.1: HTTPStatusError: HTTP 500" in report.failed[0]
        assert "secret-token" not in report.failed[0]  # a webhook's path is a secret
        failed = wh.query("SELECT status, error FROM alerts_sent WHERE status = 'failed'")
        assert len(failed) == report.found and failed["error"].str.contains("500").all()
        # the receiver is mended: the next run sends what failed, and nothing twice
        broken.script = [200]
        broken.statuses.clear()
        broken.bodies.clear()
        later = notify_day(wh, day, s)
        assert later.ok and later.sent == report.found and later.already == report.found
        assert len(broken.taken()) == report.found and len(fine.bodies) == report.found


def test_a_webhook_that_fails_once_is_retried(wh) -> None:
    day, _ = busiest_day(wh)
    with Receiver([503, 200]) as flaky:
        report = notify_day(wh, day, settings(wh, flaky.url))
        assert report.ok and report.sent == report.found
        assert flaky.statuses[:2] == [503, 200] and len(flaky.taken()) == report.found


def test_scratch_price_move_and_lineup_change_each_alert_once(wh) -> None:
    day, bets = busiest_day(wh)
    first, second, third = (bets.iloc[i] for i in range(3))
    key = {"d": day, "s": "ensemble_v1"}
    wh.execute(
        "UPDATE pitcher_strikeout_predictions SET lineup_status = 'projected' "
        "WHERE game_date = $d AND system_id = $s",
        key,
    )
    with Receiver() as hook:
        s = settings(wh, hook.url)
        before = notify_day(wh, day, s)
        assert before.ok and {b["event"] for b in hook.taken()} == {NEW_BET}
        # the first starter is scratched (his bet graded void)
        wh.execute(
            "UPDATE bets SET result = 'void', profit = 0 WHERE game_id = $g AND pitcher_id = $p "
            "AND strategy = 'ev' AND system_id = $s",
            {"g": first["game_id"], "p": int(first["pitcher_id"]), "s": "ensemble_v1"},
        )
        # the second bet's price moves 10 points of probability after it was taken
        moved = 100 if first["odds"] < -150 else -200
        quote = {
            "source": "csv",
            "game_date": day,
            "pitcher_name": "moved",
            "book": second["book"],
            "line": float(second["line"]),
            "snapshot": "posted",
            "pitcher_id": int(second["pitcher_id"]),
            "over_odds": moved if second["side"] == "OVER" else -moved,
            "under_odds": -moved if second["side"] == "OVER" else moved,
            "captured_at": pd.Timestamp("2030-01-01"),
        }
        wh.upsert("prop_lines", pd.DataFrame([quote]))
        # the lineup of the third is posted and his bet is now the other side, at that side's
        # latest price (as the re-decision takes it: no price move of its own)
        other = "UNDER" if third["side"] == "OVER" else "OVER"
        quote = wh.query(
            "SELECT over_odds, under_odds FROM prop_lines WHERE game_date = $d "
            "AND pitcher_id = $p AND book = $b AND line = $l ORDER BY captured_at DESC LIMIT 1",
            {"d": day, "p": int(third["pitcher_id"]), "b": third["book"], "l": third["line"]},
        )
        price = quote["under_odds" if other == "UNDER" else "over_odds"].iloc[0]
        assert pd.notna(price)
        wh.execute(
            "UPDATE pitcher_strikeout_predictions SET lineup_status = 'confirmed' "
            "WHERE game_id = $g AND pitcher_id = $p AND system_id = $s",
            {"g": third["game_id"], "p": int(third["pitcher_id"]), "s": "ensemble_v1"},
        )
        wh.execute(
            "UPDATE bets SET side = $side, odds = $o WHERE game_id = $g AND pitcher_id = $p "
            "AND strategy = 'ev' AND system_id = $s",
            {
                "side": other,
                "o": int(price),
                "g": third["game_id"],
                "p": int(third["pitcher_id"]),
                "s": "ensemble_v1",
            },
        )
        hook.bodies.clear()
        hook.statuses.clear()
        after = notify_day(wh, day, s)
        got = {(b["event"], b.get("pitcher_id")) for b in hook.taken()}
        assert (SCRATCHED, int(first["pitcher_id"])) in got
        assert (PRICE_MOVE, int(second["pitcher_id"])) in got
        assert (LINEUP, int(third["pitcher_id"])) in got
        # the third's new side is a new bet too; nothing else is sent again
        assert (NEW_BET, int(third["pitcher_id"])) in got and len(got) == 4
        text = next(b["text"] for b in hook.taken() if b["event"] == LINEUP)
        assert f"the bet is now {other}" in text and f"was {third['side']}" in text
        assert after.ok
        hook.bodies.clear()
        hook.statuses.clear()
        assert notify_day(wh, day, s).sent == 0 and hook.bodies == []


def test_the_daily_step_skips_without_webhooks_and_fails_naming_a_broken_one(wh) -> None:
    day, _ = busiest_day(wh)
    with pytest.raises(Skip, match=r"no webhooks \(KCAST_WEBHOOKS\)"):
        _alerts(wh, day, settings(wh))
    broken_step = r"failed \(json webhook at 127\.0\.0\.1: .*500"
    with Receiver([500]) as broken, pytest.raises(RuntimeError, match=broken_step):
        _alerts(wh, day, settings(wh, broken.url, timeout=0.5))
    with Receiver() as hook:
        detail, stats = _alerts(wh, day, settings(wh, hook.url))
        assert stats["sent"] == stats["found"] > 0 and "sent" in detail


def test_the_worker_sends_in_the_background(wh, tmp_path: Path) -> None:
    """The worker's hook sends on a thread of its own: the caller does not wait for it."""
    from kcast.service import create_app
    from kcast.service.routes.predict import notify_in_background

    day, bets = busiest_day(wh)
    with Receiver() as hook:
        app = create_app(settings(wh, hook.url))
        thread = notify_in_background(app.state.kcast, day)
        assert thread is not None and thread.daemon
        thread.join(30)
        assert len([b for b in hook.taken() if b["event"] == NEW_BET]) == len(bets)


def test_webhook_formats_are_chosen_by_host_or_prefix() -> None:
    assert Webhook.parse("https://hooks.slack.com/services/T/B/X").kind == "slack"
    assert Webhook.parse("https://discord.com/api/webhooks/1/abc").kind == "discord"
    assert Webhook.parse("https://example.org/hook").kind == "json"
    hook = Webhook.parse("slack:http://127.0.0.1:9/x")
    assert (hook.kind, hook.url) == ("slack", "http://127.0.0.1:9/x")
    assert "x" not in hook.shown.split(" at ")[1]
