-- pitcher_names_of: the ids and full names of the players $ids.
SELECT player_id AS pitcher_id, full_name AS pitcher_name FROM players
WHERE player_id IN (SELECT UNNEST($ids))
