-- graded_ledger_bets: the ledger's graded bets (win, loss or push) of one strategy ($s) between
-- two dates ($a, $b) (no leans), with what bet_metrics.record scores them by.
SELECT system_id, game_date, odds, stake, profit, clv, result FROM bets
WHERE strategy = $s AND result IN ('win', 'loss', 'push') AND COALESCE(status, 'bet') = 'bet'
  AND game_date BETWEEN $a AND $b
