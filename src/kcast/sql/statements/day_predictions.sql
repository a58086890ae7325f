-- day_predictions: every stored prediction of a date ($d), every column (the day's cards).
SELECT * FROM pitcher_strikeout_predictions WHERE game_date = $d
