-- pitcher_names: every player's id and full name.
SELECT player_id AS pitcher_id, full_name AS pitcher_name FROM players
