-- starts_between: every start's strikeouts between two dates ($a, $b) (what the books' weights
-- are graded on).
SELECT pitcher_id, game_date, strikeouts FROM pitcher_games
WHERE is_start AND game_date BETWEEN $a AND $b
