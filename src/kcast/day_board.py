"""A bettor's day: the day's bets first, then the leans, then the rest, in one vocabulary.

Every screen that shows a day builds this board and only draws it: ``kcast run``, ``kcast
predict``, ``kcast daily``, the dashboard's day page, the phone board and the CSV export. The
words are the decision's (``kcast.decision``):

* a **bet** is in the ledger: a side of a line (the card's main line or an alternate rung) at a
  book's price, staked (a share of the bankroll, shown in units and money for the bankroll a
  user states: ``bet_metrics.Bankroll``), with its expected value and its rule's record
  (``gate``);
* a **lean** is a side without a bet: the verdict's at the card's line with no bettable price
  reaching the EV threshold, or a rung whose rule is not live (it has no proven record);
* the **rest** are passes, each with its reason.

A day whose rules are all not live has no bets and says so: "no bets today: no rule has a
proven record; the leans are below".
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kcast import policy
from kcast.bet_metrics import Bankroll, fmt, units_of
from kcast.context import ALTERNATE, MAIN, Rule, RuleGate, every_rule_live
from kcast.decision import BET, LEAN
from kcast.gate import RuleRecord, record_for, shown_records
from kcast.numbers import is_missing
from kcast.teams import display_team, team_name
from kcast.warehouse import Warehouse
from kcast.warehouse.statements import statement

# the books' names as the sources give them; the short codes that 80 columns may use
BOOK_CODES = {
    "DraftKings": "DK",
    "FanDuel": "FD",
    "BetMGM": "MGM",
    "Caesars": "CZR",
    "BetRivers": "BR",
    "Fanatics": "FAN",
    "Bovada": "BOV",
    "BetOnline.ag": "BOL",
    "MyBookie.ag": "MYB",
    "consensus": "cons",
    "request": "req",
}
BOOK_NAMES = {
    "consensus": "the books' consensus",
    "request": "the price a request gave",
}
LEDGER_STRATEGY = "ev"  # the strategy kcast predict, run and daily bet with
HOW_A_RULE_BECOMES_LIVE = (
    f"A rule becomes live (its picks are bets) once {policy.GATE_MIN_BETS} of its picks of the "
    f"last {policy.GATE_LOOKBACK_DAYS} days are graded against the fair close and the 95% "
    "interval of their EV lies above zero; until then its picks are leans, stored and graded "
    "so that its record grows (`kcast bets --rules` shows every rule's record; "
    "KCAST_EDGE_GATE=off bets without the gate)."
)


def book_name(book: Any) -> str:
    """A book's full name for people (``consensus``: the books' consensus)."""
    if is_missing(book) or not str(book).strip():
        return ""
    return BOOK_NAMES.get(str(book), str(book))


def book_code(book: Any) -> str:
    """A book's short code for narrow tables (``BOOK_CODES``; else its first 4 letters)."""
    if is_missing(book) or not str(book).strip():
        return ""
    return BOOK_CODES.get(str(book), str(book)[:4])


@dataclass
class Pick:
    """One bet or lean of the day."""

    decision: str  # bet or lean
    game_id: str
    pitcher_id: int
    name: str
    team: str
    team_name: str
    opponent: str
    opponent_name: str
    is_home: bool
    system_id: str
    side: str
    line: float | None
    main_line: float | None
    book: str
    odds: float | None
    ev: float | None
    stake: float | None
    p_win: float | None
    result: str | None
    record: RuleRecord
    reason: str = ""

    @property
    def alternate(self) -> bool:
        """Is the line bet another than the card's main line?"""
        return not (self.line is None or self.main_line is None or self.line == self.main_line)

    @property
    def line_text(self) -> str:
        """``5.5``, or ``6.5 alt`` for an alternate line."""
        if self.line is None:
            return "-"
        return f"{self.line:g}" + (" alt" if self.alternate else "")

    @property
    def price(self) -> str:
        return "-" if self.odds is None else f"{self.odds:+.0f}"

    @property
    def opp(self) -> str:
        return ("" if self.is_home else "@") + self.opponent


@dataclass
class DayBoard:
    """The day's bets, leans and the rest, for one system (the primary)."""

    day: dt.date
    system: str | None
    at: str
    bankroll: Bankroll
    bets: list[Pick] = field(default_factory=list)
    leans: list[Pick] = field(default_factory=list)
    rest: list[dict[str, Any]] = field(default_factory=list)
    starters: int = 0

    @property
    def stake(self) -> float:
        return sum(b.stake or 0.0 for b in self.bets)

    @property
    def unproven_leans(self) -> int:
        """Leans whose rule is not live (picks the gate keeps out of the ledger)."""
        return sum(not lean.record.live for lean in self.leans)

    def headline(self) -> str:
        """One sentence: how many bets, their stake, or why there are none."""
        if self.bets:
            n = len(self.bets)
            money = self.bankroll.stake_text(self.stake)
            return (
                f"{self.day}: {n} bet{'' if n == 1 else 's'} of {self.starters} starters "
                f"({self.system}), total stake {money}"
            )
        if self.unproven_leans:
            return (
                f"{self.day}: no bets today: no rule has a proven record yet; "
                f"{len(self.leans)} lean{'' if len(self.leans) == 1 else 's'} below"
            )
        if self.leans:
            return (
                f"{self.day}: no bets today: no price reaches the EV threshold; "
                f"{len(self.leans)} lean{'' if len(self.leans) == 1 else 's'} below"
            )
        return f"{self.day}: no bets and no leans of {self.starters} starters ({self.system})"

    def live_note(self) -> str:
        """How a rule becomes live, on a day with leans of rules not live ("" otherwise)."""
        return HOW_A_RULE_BECOMES_LIVE if self.unproven_leans else ""

    def records(self) -> list[RuleRecord]:
        """The records of the rules of the day's bets and leans, main before alternate."""
        seen: dict[Rule, RuleRecord] = {}
        for pick in [*self.bets, *self.leans]:
            seen.setdefault(pick.record.rule, pick.record)
        return sorted(seen.values(), key=lambda r: (r.rule.system_id, r.rule.market != MAIN))

    def to_csv(self) -> str:
        """The day's bets and leans as CSV (``kcast bets --csv``, the page's download link)."""
        return picks_csv([*self.bets, *self.leans], self.bankroll)


CSV_COLUMNS = (
    "game_date",
    "decision",
    "pitcher",
    "pitcher_id",
    "team",
    "opponent",
    "home",
    "system",
    "side",
    "line",
    "alternate_line",
    "main_line",
    "book",
    "odds",
    "ev",
    "p_win",
    "stake_share",
    "stake_units",
    "stake_money",
    "result",
    "rule",
    "rule_record",
)


def picks_csv(picks: list[Pick], bankroll: Bankroll, day: dt.date | None = None) -> str:
    """Bets and leans as CSV with the stake in units and money of ``bankroll``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in picks:
        writer.writerow(
            [
                day or "",
                p.decision,
                p.name,
                p.pitcher_id,
                p.team,
                p.opponent,
                p.is_home,
                p.system_id,
                p.side,
                _plain(p.line),
                p.alternate,
                _plain(p.main_line),
                p.book,
                _plain(p.odds, ".0f"),
                _plain(p.ev, ".4f"),
                _plain(p.p_win, ".4f"),
                _plain(p.stake, ".5f"),
                _plain(bankroll.units_of(p.stake), ".2f"),
                _plain(bankroll.money_of(p.stake), ".2f"),
                p.result or "",
                p.record.name,
                p.record.summary(),
            ]
        )
    return out.getvalue()


def ledger_csv(wh: Warehouse, strategy: str, bankroll: Bankroll, system: str | None = None) -> str:
    """Every bet of the ledger (one strategy, never a lean; one system or all) as CSV, with
    its units and the stake in units and money of ``bankroll`` (``kcast bets --csv``, the
    dashboard's ``/ledger.csv``); only the header without a ledger."""
    if not wh.table_exists("bets"):
        return ""
    rows = wh.query(statement("ledger_of_strategy"), {"s": strategy})
    if system:
        rows = rows[rows["system_id"] == system]
    rows = rows.assign(
        units=units_of(rows["result"], rows["odds"]),
        stake_units=[bankroll.units_of(v) for v in rows["stake"]],
        stake_money=[bankroll.money_of(v) for v in rows["stake"]],
    )
    return rows.to_csv(index=False, lineterminator="\n")


def _plain(value: Any, spec: str = "g") -> str:
    return "" if value is None or is_missing(value) else format(value, spec)


# --------------------------------------------------------------------------------------------
# Building the board
# --------------------------------------------------------------------------------------------


def _value(row: dict[str, Any], key: str) -> Any:
    value = row.get(key)
    return None if is_missing(value) else value


def _number(row: dict[str, Any], key: str) -> float | None:
    value = _value(row, key)
    return None if value is None else float(value)


def _who(row: dict[str, Any], day: dt.date) -> dict[str, Any]:
    season = day.year
    team, opp = _value(row, "team"), _value(row, "opponent")
    return {
        "game_id": str(row["game_id"]),
        "pitcher_id": int(row["pitcher_id"]),
        "name": _value(row, "pitcher_name") or str(int(row["pitcher_id"])),
        "team": display_team(team, season) if team else "",
        "team_name": team_name(team, season) if team else "",
        "opponent": display_team(opp, season) if opp else "",
        "opponent_name": team_name(opp, season) if opp else "",
        "is_home": bool(_value(row, "is_home")),
    }


def build_board(  # noqa: PLR0913
    day: dt.date,
    rows: pd.DataFrame,
    ledger: pd.DataFrame,
    records: dict[Rule, RuleRecord],
    system: str | None,
    at: str,
    bankroll: Bankroll,
    live: RuleGate = every_rule_live,
    strategy: str = LEDGER_STRATEGY,
) -> DayBoard:
    """The board of ``system``'s prediction ``rows`` of ``day`` (with pitcher_name, team,
    opponent, is_home and the decision's columns) and its ``ledger`` bets of the day (rows of
    the ``bets`` table): the ledger's bets, the rows' leans, the rest."""
    board = DayBoard(day, system, at, bankroll)
    if rows.empty or system is None:
        return board
    mine = rows[rows["system_id"] == system]
    board.starters = int(len(mine.drop_duplicates(["game_id", "pitcher_id"])))
    if len(ledger):
        ledger = ledger[(ledger["system_id"] == system) & (ledger["strategy"] == strategy)]
        if "status" in ledger:  # the edge gate keeps its leans in the ledger too
            ledger = ledger[ledger["status"].fillna(BET) == BET]
    bet_on = {(str(r["game_id"]), int(r["pitcher_id"])): r for r in ledger.to_dict("records")}
    for row in mine.to_dict("records"):
        key = (str(row["game_id"]), int(row["pitcher_id"]))
        who = _who(row, day)
        if key in bet_on:
            bet = bet_on[key]
            rule = _rule(strategy, system, _value(bet, "decision_time") or at, bet, LEDGER_BET)
            board.bets.append(_pick(BET, bet, LEDGER_BET, who, record_for(records, rule, live)))
        elif _value(row, "decision") in (LEAN, BET):
            # a row's bet missing from the ledger is a lean (the gate kept it out)
            rule = _rule(strategy, system, at, row, ROW_LEAN)
            board.leans.append(_pick(LEAN, row, ROW_LEAN, who, record_for(records, rule, live)))
        else:
            board.rest.append(
                {
                    **who,
                    "line": _number(row, "line"),
                    "verdict": _value(row, "verdict") or _value(row, "recommendation"),
                    "predicted": _number(row, "predicted_strikeouts"),
                    "reason": pass_reason(_value(row, "reasons"), _value(row, "red_flags")),
                    "result": _value(row, "result"),
                }
            )
    board.bets.sort(key=lambda p: -(p.ev or 0.0))
    board.leans.sort(key=lambda p: -(p.ev if p.ev is not None else -9.0))
    return board


# where a pick's fields are: in a ledger row (a bet), in a prediction row (a lean)
LEDGER_BET = {
    "side": "side",
    "line": "line",
    "main_line": "main_line",
    "book": "book",
    "odds": "odds",
    "ev": "ev",
    "stake": "stake",
    "p_win": "p_win",
    "reason": "reason",
}
ROW_LEAN = {
    "side": "recommendation",
    "line": "decision_line",
    "main_line": "line",
    "book": "decision_book",
    "odds": "decision_odds",
    "ev": "decision_ev",
    "stake": None,
    "p_win": None,
    "reason": "decision_reason",
}


def _pick(
    decision: str,
    row: dict[str, Any],
    columns: dict[str, str | None],
    who: dict[str, Any],
    record: RuleRecord,
) -> Pick:
    """A bet or lean from a ledger or prediction ``row`` whose fields ``columns`` names."""

    def number(name: str) -> float | None:
        column = columns[name]
        return None if column is None else _number(row, column)

    return Pick(
        decision,
        **who,
        system_id=record.rule.system_id,
        side=str(row[columns["side"]]),
        line=number("line"),
        main_line=number("main_line"),
        book=book_name(row.get(columns["book"])),
        odds=number("odds"),
        ev=number("ev"),
        stake=number("stake"),
        p_win=number("p_win"),
        result=_value(row, "result"),
        record=record,
        reason=_value(row, columns["reason"] or "") or "",
    )


def _rule(
    strategy: str, system: str, at: str, row: dict[str, Any], columns: dict[str, str | None]
) -> Rule:
    """The rule of a pick: main or alternate by its line against the card's main line."""
    bet_line, main_line = _number(row, columns["line"]), _number(row, columns["main_line"])
    alternate = bet_line is not None and main_line is not None and bet_line != main_line
    return Rule(strategy, system, at, ALTERNATE if alternate else MAIN)


def pass_reason(reasons: str | None, flags: str | None) -> str:
    """One short reason for a pass, from the decision's reasons and the red flags."""
    reasons, flags = reasons or "", flags or ""
    if "no_line" in flags or reasons == "no line":
        return "no line"
    if "no_odds" in flags:
        return "no price"
    if "red flag" in reasons:
        return "red flag"
    if "edge " in reasons:
        return "no edge"
    if "no value at" in reasons:
        return "no value at price"
    if "confidence" in reasons:
        return "low confidence"
    return "no bet"


def day_board(
    wh: Warehouse,
    day: dt.date,
    system: str | None,
    at: str,
    bankroll: Bankroll,
    live: RuleGate = every_rule_live,
) -> DayBoard:
    """The board of a stored day: its prediction rows and the ledger's bets."""
    rows = wh.query(statement("day_predictions"), {"d": day})
    ledger = (
        wh.query(statement("day_ledger"), {"d": day}) if wh.table_exists("bets") else pd.DataFrame()
    )
    records = shown_records(wh, day, live)
    return build_board(day, rows, ledger, records, system, at, bankroll, live)


def money(value: float | None) -> str:
    return fmt(value, ",.2f")


def forecast_board(
    forecast: Any,
    wh: Warehouse,
    system: str | None,
    bankroll: Bankroll,
    live: RuleGate = every_rule_live,
) -> DayBoard:
    """The board of a forecast just made (``forecast.Forecast``), stored or not: its rows
    with the pitchers' names, and the bets it takes."""
    rows = forecast.frame()
    features = forecast.features
    if len(rows) and "pitcher_name" not in rows and "pitcher_name" in features:
        names = features[["game_id", "pitcher_id", "pitcher_name"]].drop_duplicates(
            ["game_id", "pitcher_id"]
        )
        rows = rows.merge(names, on=["game_id", "pitcher_id"], how="left")
    shown = system if system in forecast.outputs else next(iter(forecast.outputs), system)
    day = forecast.date
    records = shown_records(wh, day, live)
    ledger = forecast.ledger("board")
    return build_board(day, rows, ledger, records, shown, forecast.context.at.label, bankroll, live)
