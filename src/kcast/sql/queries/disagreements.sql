-- disagreements: Where did the systems disagree most on the date?
-- The 20 pitchers with the largest spread: the lowest and highest predicted strikeouts and the
-- systems that made them (ties: the first system_id), the primary system's prediction and
-- recommendation, the line and (once graded) what happened.
-- Parameters: $date (default: the latest game_date with predictions), $system (default: the
-- primary system, MLB_PRIMARY_SYSTEM).
WITH compared AS (
    SELECT *
    FROM system_agreement
    WHERE game_date = $date AND systems >= 2
),
sides AS (
    SELECT
        a.game_id,
        a.pitcher_id,
        MIN(CASE WHEN p.predicted_strikeouts = a.min_predicted THEN p.system_id END)
            AS lowest_system,
        MIN(CASE WHEN p.predicted_strikeouts = a.max_predicted THEN p.system_id END)
            AS highest_system,
        MAX(CASE WHEN p.system_id = $system THEN p.predicted_strikeouts END) AS primary_predicted,
        MAX(p.line) AS line,
        MAX(CASE WHEN p.system_id = $system THEN p.recommendation END) AS primary_recommendation,
        MAX(p.actual_strikeouts) AS actual_strikeouts
    FROM compared AS a
    JOIN pitcher_strikeout_predictions AS p
        ON p.game_id = a.game_id AND p.pitcher_id = a.pitcher_id
    GROUP BY a.game_id, a.pitcher_id
)
SELECT
    a.game_date,
    a.game_id,
    a.pitcher_id,
    a.pitcher_name,
    a.spread,
    a.agreement,
    a.systems,
    a.min_predicted,
    s.lowest_system,
    a.max_predicted,
    s.highest_system,
    s.primary_predicted,
    s.line,
    s.primary_recommendation,
    s.actual_strikeouts
FROM compared AS a
JOIN sides AS s ON s.game_id = a.game_id AND s.pitcher_id = a.pitcher_id
ORDER BY a.spread DESC, a.pitcher_id
LIMIT 20
