-- player_name: a player's ($p) full name.
SELECT full_name FROM players WHERE player_id = $p
