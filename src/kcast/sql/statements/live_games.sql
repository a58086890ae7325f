-- live_games: the games of a date ($d) whose status is one of $s (a game under way).
SELECT game_id FROM games WHERE game_date = $d AND status IN (SELECT UNNEST($s))
