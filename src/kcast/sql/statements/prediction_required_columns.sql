-- prediction_required_columns: the required columns of the stored predictions of games $g
-- (what an upsert of their grades carries besides them).
SELECT game_id, pitcher_id, system_id, game_date, model_version, predicted_strikeouts,
       confidence, recommendation, created_at
FROM pitcher_strikeout_predictions WHERE game_id IN (SELECT UNNEST($g))
