-- daily_volume: How much was predicted each day in the two weeks up to the date?
-- Per game date (the date and the 13 before it): pitchers, prediction rows, systems, rows with
-- a line, the primary system's OVER and UNDER picks, and rows graded.
-- Parameters: $date (default: the latest game_date with predictions), $system (default: the
-- primary system, MLB_PRIMARY_SYSTEM).
SELECT
    game_date,
    COUNT(DISTINCT game_id || ':' || CAST(pitcher_id AS VARCHAR)) AS pitchers,
    COUNT(*) AS predictions,
    COUNT(DISTINCT system_id) AS systems,
    COUNT(CASE WHEN line IS NOT NULL THEN 1 END) AS with_line,
    COUNT(CASE WHEN system_id = $system AND recommendation = 'OVER' THEN 1 END) AS primary_overs,
    COUNT(CASE WHEN system_id = $system AND recommendation = 'UNDER' THEN 1 END)
        AS primary_unders,
    COUNT(CASE WHEN actual_strikeouts IS NOT NULL THEN 1 END) AS graded
FROM pitcher_strikeout_predictions
WHERE game_date BETWEEN CAST(CAST($date AS DATE) - INTERVAL 13 DAY AS DATE) AND $date
GROUP BY game_date
ORDER BY game_date
