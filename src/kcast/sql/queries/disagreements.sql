-- disagreements: Where did the systems disagree most on the date?
-- The 20 pitchers with the largest spread, each system's predicted strikeouts side by side,
-- the line, the ensemble's recommendation and (once graded) what happened.
-- Parameters: $date (default: the latest game_date with predictions).
SELECT
    a.game_date,
    a.game_id,
    a.pitcher_id,
    a.pitcher_name,
    a.spread,
    a.agreement,
    MAX(CASE WHEN p.system_id = 'v1_baseline' THEN p.predicted_strikeouts END) AS v1_baseline,
    MAX(CASE WHEN p.system_id = 'v1_6_rolling' THEN p.predicted_strikeouts END) AS v1_6_rolling,
    MAX(CASE WHEN p.system_id = 'ensemble_v1' THEN p.predicted_strikeouts END) AS ensemble_v1,
    MAX(p.line) AS line,
    MAX(CASE WHEN p.system_id = 'ensemble_v1' THEN p.recommendation END)
        AS ensemble_recommendation,
    MAX(p.actual_strikeouts) AS actual_strikeouts
FROM system_agreement AS a
JOIN pitcher_strikeout_predictions AS p
    ON p.game_id = a.game_id AND p.pitcher_id = a.pitcher_id
WHERE a.game_date = $date AND a.systems >= 2
GROUP BY a.game_date, a.game_id, a.pitcher_id, a.pitcher_name, a.spread, a.agreement
ORDER BY a.spread DESC, a.pitcher_id
LIMIT 20
