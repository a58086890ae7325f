-- games_with_status: the games of a date ($d) whose status is one of $s.
SELECT game_id, status FROM games WHERE game_date = $d AND status IN (SELECT UNNEST($s))
