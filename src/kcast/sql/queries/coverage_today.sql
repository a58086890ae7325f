-- coverage_today: Did every system predict every pitcher on the date?
-- Returns one row from daily_coverage: pitchers, min and max systems per pitcher, systems seen,
-- pitchers missing a system; complete is true when min = max = systems seen. kcast status also
-- compares min and max with the number of active systems (MLB_ACTIVE_SYSTEMS).
-- Parameters: $date (default: the latest game_date with predictions).
SELECT
    game_date,
    pitchers,
    min_systems_per_pitcher,
    max_systems_per_pitcher,
    systems_seen,
    pitchers_missing_systems,
    min_systems_per_pitcher = max_systems_per_pitcher
    AND max_systems_per_pitcher = systems_seen AS complete,
    predictions,
    predictions_with_line,
    predictions_graded,
    first_created_at,
    last_created_at
FROM daily_coverage
WHERE game_date = $date
