-- starts_with_strikeouts: every start between two dates ($a, $b) with its strikeouts.
SELECT game_id, pitcher_id, strikeouts AS actual_strikeouts FROM pitcher_games
WHERE is_start AND game_date BETWEEN $a AND $b
