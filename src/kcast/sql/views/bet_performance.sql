-- bet_performance: per system, strategy, time window and cut (all bets, by book, by line, by
-- rung and by EV bucket) how the graded bets of bet_ledger did: bets, wins, losses, pushes,
-- units won by one-unit bets and ROI = units / bets; staked and profit at the Kelly stakes and
-- their ratio (kelly_roi); mean CLV in probability points (fair close minus fair at the
-- decision) and mean EV of the price taken against the fair close, and the share of bets that
-- beat the close. Windows end at the latest graded bet's game_date: last_7_days, last_30_days,
-- season (since 1 January of that year) and all.
WITH latest AS (
    SELECT MAX(game_date) AS as_of, MIN(game_date) AS first_date FROM bet_ledger
),
windows AS (
    SELECT
        'last_7_days' AS time_window,
        1 AS window_order,
        CAST(as_of - INTERVAL 6 DAY AS DATE) AS window_start,
        as_of AS window_end
    FROM latest
    UNION ALL
    SELECT 'last_30_days', 2, CAST(as_of - INTERVAL 29 DAY AS DATE), as_of FROM latest
    UNION ALL
    SELECT
        'season',
        3,
        MAKE_DATE(CAST(EXTRACT(YEAR FROM as_of) AS BIGINT), 1, 1),
        as_of
    FROM latest
    UNION ALL
    SELECT 'all', 4, first_date, as_of FROM latest
),
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
    COUNT(*) AS bets,
    COUNT(CASE WHEN c.result = 'win' THEN 1 END) AS wins,
    COUNT(CASE WHEN c.result = 'loss' THEN 1 END) AS losses,
    COUNT(CASE WHEN c.result = 'push' THEN 1 END) AS pushes,
    SUM(c.units) AS units,
    SUM(c.units) / NULLIF(COUNT(c.units), 0) AS roi,
    SUM(c.stake) AS staked,
    SUM(c.profit) AS profit,
    SUM(c.profit) / NULLIF(SUM(c.stake), 0) AS kelly_roi,
    AVG(c.clv) * 100.0 AS clv_points,
    AVG(c.ev_close) AS ev_close,
    AVG(c.beat_close) AS beat_close_share
FROM cuts AS c
JOIN windows AS w ON c.game_date BETWEEN w.window_start AND w.window_end
GROUP BY
    c.system_id, c.strategy, w.time_window, w.window_order, w.window_start, w.window_end,
    c.cut, c.cut_value
