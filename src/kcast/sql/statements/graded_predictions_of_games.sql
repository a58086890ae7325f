-- graded_predictions_of_games: the grades of the stored predictions of games $g.
SELECT game_id, pitcher_id, system_id, actual_strikeouts, graded_at
FROM pitcher_strikeout_predictions
WHERE game_id IN (SELECT UNNEST($g)) AND graded_at IS NOT NULL
