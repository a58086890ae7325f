-- prediction_changes: What did predicting the date again change (a lineup confirmed, a line moved)?
-- Every earlier answer kept in prediction_snapshots for the date, beside the row that replaced
-- it: the lineup status, predicted strikeouts, line, P(over) and recommendation before and now,
-- and what changed. A starter predicted on a projected lineup, and again once his opponent
-- posted its nine, shows lineup_before projected and lineup_now confirmed.
-- Parameters: $date (default: the latest game_date with predictions).
SELECT
    s.game_date,
    s.pitcher_name,
    s.pitcher_id,
    s.team,
    s.opponent,
    s.system_id,
    s.created_at AS predicted_at,
    s.replaced_at,
    s.lineup_status AS lineup_before,
    p.lineup_status AS lineup_now,
    s.predicted_strikeouts AS predicted_before,
    p.predicted_strikeouts AS predicted_now,
    s.line AS line_before,
    p.line AS line_now,
    s.p_over AS p_over_before,
    p.p_over AS p_over_now,
    s.recommendation AS recommendation_before,
    p.recommendation AS recommendation_now,
    s.changes
FROM prediction_snapshots s
LEFT JOIN pitcher_strikeout_predictions p
    ON p.game_id = s.game_id AND p.pitcher_id = s.pitcher_id AND p.system_id = s.system_id
WHERE s.game_date = $date
ORDER BY s.pitcher_name, s.system_id, s.created_at
