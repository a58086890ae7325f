-- bet_performance: per system, strategy, time window and cut (all bets, by book, by line, by
-- rung and by EV bucket) how the graded bets of bet_ledger did, by kcast.bet_metrics' one
-- definition of each: bets, wins, losses, pushes, voids, win_rate, units won by one-unit bets
-- and roi_flat = units / priced bets; staked and profit at the stakes taken and their ratio
-- roi_staked; clv, the mean closing-line value (fair close minus fair at the decision) as a
-- probability and clv_points in probability points; the mean EV of the price taken against the
-- fair close, and the share of bets that beat the close. Windows end at the latest graded bet's game_date: last_7_days, last_30_days,
-- season (since 1 January of that year) and all.
WITH latest AS (
    SELECT MAX(game_date) AS as_of, MIN(game_date) AS first_date FROM bet_ledger
),
{{TIME_WINDOWS}},
cuts AS (
    SELECT *, 'all' AS cut, 'all' AS cut_value FROM bet_ledger
    UNION ALL
    SELECT *, 'book', book FROM bet_ledger
    UNION ALL
    SELECT *, 'line', CAST(line AS VARCHAR) FROM bet_ledger
    UNION ALL
    SELECT *, 'rung', rung FROM bet_ledger
    UNION ALL
    SELECT *, 'ev_bucket', ev_bucket FROM bet_ledger
)
SELECT
    c.system_id,
    c.strategy,
    w.time_window,
    w.window_order,
    w.window_start,
    w.window_end,
    c.cut,
    c.cut_value,
    {{BET_RECORD}},
    100.0 * AVG(CASE WHEN c.result IN ('win', 'loss', 'push') THEN c.clv END) AS clv_points,
    AVG(c.ev_close) AS ev_close,
    AVG(c.beat_close) AS beat_close_share
FROM cuts AS c
JOIN windows AS w ON c.game_date BETWEEN w.window_start AND w.window_end
GROUP BY
    c.system_id, c.strategy, w.time_window, w.window_order, w.window_start, w.window_end,
    c.cut, c.cut_value
