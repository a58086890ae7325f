-- recent_starts: a pitcher's ($p) latest 15 starts up to a date ($d).
SELECT game_id, game_date, team, opponent, is_home, outs, batters_faced, pitches, strikeouts,
       walks, earned_runs
FROM pitcher_games WHERE pitcher_id = $p AND is_start AND game_date <= $d
ORDER BY game_date DESC LIMIT 15
