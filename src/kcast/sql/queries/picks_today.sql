-- picks_today: What does the ensemble bet on the date?
-- Every OVER/UNDER of ensemble_v1 from todays_picks, most confident first, with the line,
-- prices, edge, P(over), red flags and (once graded) the result.
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
WHERE game_date = $date
ORDER BY confidence DESC, pitcher_id
