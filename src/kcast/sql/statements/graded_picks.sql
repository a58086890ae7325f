-- graded_picks: the ledger's graded picks (bets and leans) of games from $a to before $d, with
-- what a rule's record is measured by (kcast.gate): clv, ev_close and the units a one-unit bet
-- won at the price taken (win: decimal odds - 1; loss: -1; push: 0).
SELECT
    strategy,
    system_id,
    COALESCE(decision_time, 'now') AS decision_time,
    COALESCE(market, CASE WHEN line = main_line THEN 'main' ELSE 'alternate' END) AS market,
    game_date,
    clv,
    ev_close,
    CASE
        WHEN result = 'win' AND odds > 0 THEN odds / 100.0
        WHEN result = 'win' THEN 100.0 / (0 - odds)
        WHEN result = 'loss' THEN -1.0
        WHEN result = 'push' THEN 0.0
    END AS units
FROM bets
WHERE result IS NOT NULL AND game_date >= $a AND game_date < $d
ORDER BY game_date, strategy, system_id
