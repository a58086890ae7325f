-- game_strikeouts_between: every pitcher's strikeouts in each game between two dates ($a, $b).
SELECT game_id, pitcher_id, strikeouts FROM pitcher_games WHERE game_date BETWEEN $a AND $b
