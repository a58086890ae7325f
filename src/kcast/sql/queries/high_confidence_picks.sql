-- high_confidence_picks: Which of the date's ensemble picks are the strongest?
-- Picks with confidence of 70 or more and no red flag, most confident first.
-- Parameters: $date (default: the latest game_date with predictions).
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
WHERE game_date = $date AND confidence >= 70 AND COALESCE(red_flags, '') = ''
ORDER BY confidence DESC, pitcher_id
