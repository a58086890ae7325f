-- pitcher_forecasts: every stored prediction of a pitcher ($p) up to a date ($d), newest first.
SELECT game_id, game_date, system_id, predicted_strikeouts, line, recommendation, p_over,
       actual_strikeouts, result, pmf
FROM pitcher_strikeout_predictions WHERE pitcher_id = $p AND game_date <= $d
ORDER BY game_date DESC, system_id
