-- todays_picks: the ensemble's (ensemble_v1) bets, OVER or UNDER, for every date, with the line,
-- prices, edge, P(over), confidence and red flags, and the grade once known. "Today" is the
-- filter a reader applies: WHERE game_date = <the date> (the picks_today query does).
SELECT
    game_date,
    game_id,
    pitcher_id,
    pitcher_name,
    team,
    opponent,
    is_home,
    recommendation,
    confidence,
    line,
    book,
    over_odds,
    under_odds,
    predicted_strikeouts,
    predicted_median,
    k_p10,
    k_p90,
    edge,
    p_over,
    p_under,
    market_p_over,
    expected_value,
    red_flags,
    model_version,
    created_at,
    actual_strikeouts,
    result
FROM pitcher_strikeout_predictions
WHERE system_id = 'ensemble_v1' AND recommendation IN ('OVER', 'UNDER')
