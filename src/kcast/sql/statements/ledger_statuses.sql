-- ledger_statuses: how many picks of a strategy ($s) the ledger holds, by status (bet or lean).
SELECT COALESCE(status, 'bet') AS status, COUNT(*) AS n FROM bets WHERE strategy = $s GROUP BY 1
