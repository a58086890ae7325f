-- bets_between: every bet of the ledger between two dates ($a, $b).
SELECT * FROM bets WHERE game_date BETWEEN $a AND $b
