-- picks_today: What does the primary system bet on the date?
-- Every OVER/UNDER of the primary system from todays_picks, most confident first, with the
-- line, prices, edge, P(over), red flags and (once graded) the result.
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
    over_odds,
    under_odds,
    predicted_strikeouts,
    edge,
    p_over,
    market_p_over,
    expected_value,
    red_flags,
    actual_strikeouts,
    result
FROM todays_picks
WHERE system_id = $system AND game_date = $date
ORDER BY confidence DESC, pitcher_id
