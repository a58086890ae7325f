-- daily_coverage: per game date, how many pitchers were predicted and by how many systems.
-- A healthy day has min_systems_per_pitcher = max_systems_per_pitcher = the number of active
-- systems (MLB_ACTIVE_SYSTEMS; 4 by default). pitchers_missing_systems
-- counts the pitcher-games that lack a system seen elsewhere that day (a breaker or a failure).
WITH per_pitcher AS (
    SELECT game_date, game_id, pitcher_id, COUNT(DISTINCT system_id) AS systems
    FROM pitcher_strikeout_predictions
    GROUP BY game_date, game_id, pitcher_id
),
per_day AS (
    SELECT
        game_date,
        COUNT(*) AS predictions,
        COUNT(DISTINCT system_id) AS systems_seen,
        COUNT(CASE WHEN line IS NOT NULL THEN 1 END) AS predictions_with_line,
        COUNT(CASE WHEN actual_strikeouts IS NOT NULL THEN 1 END) AS predictions_graded,
        MIN(created_at) AS first_created_at,
        MAX(created_at) AS last_created_at
    FROM pitcher_strikeout_predictions
    GROUP BY game_date
)
SELECT
    d.game_date,
    COUNT(*) AS pitchers,
    MIN(p.systems) AS min_systems_per_pitcher,
    MAX(p.systems) AS max_systems_per_pitcher,
    d.systems_seen,
    COUNT(CASE WHEN p.systems < d.systems_seen THEN 1 END) AS pitchers_missing_systems,
    d.predictions,
    d.predictions_with_line,
    d.predictions_graded,
    d.first_created_at,
    d.last_created_at
FROM per_pitcher AS p
JOIN per_day AS d ON d.game_date = p.game_date
GROUP BY
    d.game_date,
    d.systems_seen,
    d.predictions,
    d.predictions_with_line,
    d.predictions_graded,
    d.first_created_at,
    d.last_created_at
