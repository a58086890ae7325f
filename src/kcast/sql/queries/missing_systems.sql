-- missing_systems: Which pitchers on the date lack a prediction from one of the systems?
-- A system counts when it predicted anyone in the seven days up to the date, so a system that
-- failed for the whole day shows too (circuit breaker open, model failed to load, switched
-- off). One row per missing (pitcher, system); empty on a healthy day.
-- Parameters: $date (default: the latest game_date with predictions).
WITH day AS (
    SELECT game_id, pitcher_id, system_id, pitcher_name, team
    FROM pitcher_strikeout_predictions
    WHERE game_date = $date
),
recent_systems AS (
    SELECT system_id, MAX(game_date) AS last_seen
    FROM pitcher_strikeout_predictions
    WHERE game_date BETWEEN CAST(CAST($date AS DATE) - INTERVAL 6 DAY AS DATE) AND $date
    GROUP BY system_id
),
pitchers AS (
    SELECT
        game_id,
        pitcher_id,
        MAX(pitcher_name) AS pitcher_name,
        MAX(team) AS team,
        COUNT(*) AS systems_present
    FROM day
    GROUP BY game_id, pitcher_id
)
SELECT
    p.game_id,
    p.pitcher_id,
    p.pitcher_name,
    p.team,
    s.system_id AS missing_system,
    s.last_seen AS system_last_seen,
    p.systems_present
FROM pitchers AS p
CROSS JOIN recent_systems AS s
LEFT JOIN day AS d
    ON d.game_id = p.game_id AND d.pitcher_id = p.pitcher_id AND d.system_id = s.system_id
WHERE d.system_id IS NULL
ORDER BY missing_system, p.game_id, p.pitcher_id
