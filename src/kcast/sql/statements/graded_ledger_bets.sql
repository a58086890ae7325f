-- graded_ledger_bets: the ledger's graded, staked bets of one strategy ($s) between two dates
-- ($a, $b).
SELECT system_id, game_date, stake, profit, clv, result FROM bets
WHERE strategy = $s AND result IN ('win', 'loss', 'push') AND stake > 0 AND COALESCE(status, 'bet') = 'bet'
  AND game_date BETWEEN $a AND $b
