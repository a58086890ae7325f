-- performance_by_line: How does each system do at each line (3.5, 4.5, ...)?
-- Per system and line over graded starts with a line: starts, MAE, mean predicted and actual
-- strikeouts, the share that went over, the mean edge, and how the bets did (bets, wins,
-- losses, pushes, win rate, priced bets, units, ROI).
-- Parameters: none.
SELECT
    system_id,
    line,
    COUNT(*) AS starts,
    AVG(ABS(error)) AS mae,
    AVG(predicted_strikeouts) AS mean_predicted,
    AVG(actual_strikeouts) AS mean_actual,
    AVG(CASE WHEN actual_strikeouts > line THEN 1.0 ELSE 0.0 END) AS over_rate,
    AVG(edge) AS mean_edge,
    {{BET_SUMMARY}}
FROM graded_predictions
WHERE line IS NOT NULL
GROUP BY system_id, line
ORDER BY system_id, line
