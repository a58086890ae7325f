-- graded_lines_of_system: a system's ($s) graded predictions of games before a date ($d) with a
-- line and both probabilities: what its market blend is fitted on.
SELECT model_p_over, market_p_over, line, actual_strikeouts
FROM pitcher_strikeout_predictions
WHERE system_id = $s AND game_date < $d AND actual_strikeouts IS NOT NULL
  AND line IS NOT NULL AND model_p_over IS NOT NULL AND market_p_over IS NOT NULL
