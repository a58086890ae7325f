-- stored_predictions_of_day: what the stored predictions of a date ($d) were made with: the
-- line and prices, the model version and when.
SELECT game_id, pitcher_id, system_id, line, over_odds, under_odds, model_version, created_at
FROM pitcher_strikeout_predictions WHERE game_date = $d
