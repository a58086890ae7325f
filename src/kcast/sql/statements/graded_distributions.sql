-- graded_distributions: the graded distributions of the systems $ids for games before a date
-- ($d): what an ensemble learns its member weights from.
SELECT game_id, pitcher_id, system_id, pmf, actual_strikeouts
FROM pitcher_strikeout_predictions
WHERE system_id IN (SELECT UNNEST($ids)) AND game_date < $d
  AND actual_strikeouts IS NOT NULL AND pmf IS NOT NULL
