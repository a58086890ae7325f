-- players_named: the players whose full name is $n (any case).
SELECT player_id, full_name FROM players WHERE lower(full_name) = lower($n)
