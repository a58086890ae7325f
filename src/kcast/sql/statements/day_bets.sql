-- day_bets: the ledger's bets of a date ($d) and strategy ($st) by the systems $sys on the
-- games $g, with their results.
SELECT system_id, game_id, pitcher_id, result FROM bets
WHERE game_date = $d AND strategy = $st AND system_id IN (SELECT UNNEST($sys))
  AND game_id IN (SELECT UNNEST($g))
