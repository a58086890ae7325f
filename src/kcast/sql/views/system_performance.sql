-- system_performance: per system and time window, how good the graded predictions were:
-- graded count, MAE, bias (mean predicted - actual), RMSE, share within 1 K, bets (OVER/UNDER on
-- a line), wins, losses, pushes, win rate = wins / (wins + losses), units won at the stored
-- American odds (a push returns the stake; bets without a price on their side are left out of
-- units and ROI) and ROI = units / priced bets (graded_predictions scores each bet).
-- Windows end at the latest graded game_date in the table (not today, so history works):
-- last_7_days and last_30_days (that date and the 6 or 29 before it), season (since 1 January
-- of that year) and all.
WITH latest AS (
    SELECT MAX(game_date) AS as_of, MIN(game_date) AS first_date FROM graded_predictions
),
{{TIME_WINDOWS}}
SELECT
    s.system_id,
    w.time_window,
    w.window_order,
    w.window_start,
    w.window_end,
    COUNT(*) AS graded,
    AVG(ABS(s.error)) AS mae,
    AVG(s.error) AS bias,
    SQRT(AVG(s.error * s.error)) AS rmse,
    AVG(CASE WHEN ABS(s.error) <= 1 THEN 1.0 ELSE 0.0 END) AS within_1k,
    COUNT(CASE WHEN s.line IS NOT NULL THEN 1 END) AS with_line,
    {{BET_SUMMARY}}
FROM graded_predictions AS s
JOIN windows AS w ON s.game_date BETWEEN w.window_start AND w.window_end
GROUP BY s.system_id, w.time_window, w.window_order, w.window_start, w.window_end
