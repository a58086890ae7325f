-- performance_by_line: How does each system do at each line (3.5, 4.5, ...)?
-- Per system and line over graded starts with a line: starts, MAE, mean predicted and actual
-- strikeouts, the share that went over, the mean edge, bets, wins, losses and win rate.
-- Parameters: none.
SELECT
    system_id,
    line,
    COUNT(*) AS starts,
    AVG(ABS(predicted_strikeouts - actual_strikeouts)) AS mae,
    AVG(predicted_strikeouts) AS mean_predicted,
    AVG(actual_strikeouts) AS mean_actual,
    AVG(CASE WHEN actual_strikeouts > line THEN 1.0 ELSE 0.0 END) AS over_rate,
    AVG(edge) AS mean_edge,
    COUNT(CASE WHEN result IN ('win', 'loss', 'push') THEN 1 END) AS bets,
    COUNT(CASE WHEN result = 'win' THEN 1 END) AS wins,
    COUNT(CASE WHEN result = 'loss' THEN 1 END) AS losses,
    COUNT(CASE WHEN result = 'win' THEN 1 END)
        / NULLIF(COUNT(CASE WHEN result IN ('win', 'loss') THEN 1 END), 0) AS win_rate
FROM pitcher_strikeout_predictions
WHERE actual_strikeouts IS NOT NULL AND line IS NOT NULL
GROUP BY system_id, line
ORDER BY system_id, line
