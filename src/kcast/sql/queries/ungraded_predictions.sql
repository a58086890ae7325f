-- ungraded_predictions: Which predictions up to the date still have no grade?
-- Per game date and system: ungraded rows, and how many of them could be graded now because
-- the start is in pitcher_games (run `kcast grade --date D` for those); the rest wait for
-- results to be ingested. Void rows (the pitcher did not start) are graded. Empty when
-- everything is graded.
-- Parameters: $date (default: the latest game_date with predictions).
SELECT
    p.game_date,
    p.system_id,
    COUNT(*) AS ungraded,
    COUNT(g.pitcher_id) AS gradeable_now
FROM pitcher_strikeout_predictions AS p
LEFT JOIN pitcher_games AS g ON g.game_id = p.game_id AND g.pitcher_id = p.pitcher_id
WHERE p.game_date <= $date
    AND (p.result IS NULL OR (p.actual_strikeouts IS NULL AND p.result <> 'void'))
GROUP BY p.game_date, p.system_id
ORDER BY p.game_date, p.system_id
