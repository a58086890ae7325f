-- graded_picks: the ledger's graded picks (bets and leans) of games from $a to before $d, with
-- what a rule's record is measured by (kcast.gate): clv, ev_close, and the result and price
-- that give the units a one-unit bet won.
SELECT
    strategy,
    system_id,
    COALESCE(decision_time, 'now') AS decision_time,
    COALESCE(market, CASE WHEN line = main_line THEN 'main' ELSE 'alternate' END) AS market,
    game_date,
    clv,
    ev_close,
    result,
    odds
FROM bets
WHERE result IS NOT NULL AND game_date >= $a AND game_date < $d
ORDER BY game_date, strategy, system_id
