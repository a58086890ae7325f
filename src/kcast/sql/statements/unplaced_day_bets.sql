-- unplaced_day_bets: a condition (the WHERE of a delete): the bets of a date ($d) and strategy
-- ($st) by the systems $sys on the games $g that are not graded yet.
game_date = $d AND strategy = $st AND system_id IN (SELECT UNNEST($sys))
AND game_id IN (SELECT UNNEST($g)) AND result IS NULL
