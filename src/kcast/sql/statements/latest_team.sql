-- latest_team: the team of a pitcher's ($p) latest game before a date ($d).
SELECT team FROM pitcher_games WHERE pitcher_id = $p AND game_date < $d
ORDER BY game_date DESC LIMIT 1
