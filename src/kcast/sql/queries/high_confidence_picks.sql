-- high_confidence_picks: Which of the date's picks are the strongest?
-- The primary system's picks with confidence of 70 or more and no red flag, most confident first.
-- Parameters: $date (default: the latest game_date with predictions), $system (default: the
-- primary system, MLB_PRIMARY_SYSTEM).
SELECT
    game_date,
    pitcher_name,
    pitcher_id,
    team,
    opponent,
    recommendation,
    confidence,
    line,
    predicted_strikeouts,
    edge,
    p_over,
    expected_value,
    actual_strikeouts,
    result
FROM todays_picks
WHERE system_id = $system AND game_date = $date AND confidence >= 70 AND COALESCE(red_flags, '') = ''
ORDER BY confidence DESC, pitcher_id
