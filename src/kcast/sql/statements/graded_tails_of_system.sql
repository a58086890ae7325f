-- graded_tails_of_system: a system's ($s) graded predictions of games from $a to before $d with
-- a line, its stated P(over/under) and its distribution: what its tail calibration is fitted on.
SELECT line, p_over, p_under, pmf, actual_strikeouts
FROM pitcher_strikeout_predictions
WHERE system_id = $s AND game_date >= $a AND game_date < $d AND actual_strikeouts IS NOT NULL
  AND line IS NOT NULL AND p_over IS NOT NULL AND p_under IS NOT NULL AND pmf IS NOT NULL
