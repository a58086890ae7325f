-- latest_prediction_date: the latest game date with a stored prediction (the dashboard's day
-- when none is asked for).
SELECT MAX(game_date) AS d FROM pitcher_strikeout_predictions
