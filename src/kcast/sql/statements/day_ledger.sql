-- day_ledger: every bet of the ledger on a date ($d), every column (the day's board).
SELECT * FROM bets WHERE game_date = $d
