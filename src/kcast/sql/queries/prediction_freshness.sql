-- prediction_freshness: Were the predictions made before the games, and graded after?
-- Per game date (the date and the 13 before it): first and last created_at (UTC), days from
-- the game date to the first prediction's UTC date (0 = same day, negative = the day before,
-- positive = made after the game day, i.e. a backfill or replay), rows made after the game
-- day, rows graded and the last graded_at.
-- Parameters: $date (default: the latest game_date with predictions).
SELECT
    game_date,
    COUNT(*) AS predictions,
    MIN(created_at) AS first_created_at,
    MAX(created_at) AS last_created_at,
    DATE_DIFF('day', game_date, CAST(MIN(created_at) AS DATE)) AS days_to_first_prediction,
    COUNT(CASE WHEN CAST(created_at AS DATE) > game_date THEN 1 END) AS made_after_game_day,
    COUNT(CASE WHEN actual_strikeouts IS NOT NULL THEN 1 END) AS graded,
    MAX(graded_at) AS last_graded_at
FROM pitcher_strikeout_predictions
WHERE game_date BETWEEN CAST(CAST($date AS DATE) - INTERVAL 13 DAY AS DATE) AND $date
GROUP BY game_date
ORDER BY game_date
