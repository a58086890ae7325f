-- day_bets_of_system: the ledger's bets of a date ($d) by one system ($s), the ev strategy's
-- first (bets only: a lean is no bet).
SELECT game_id, pitcher_id, strategy, side, line, book, odds, stake, p_win, ev, result
FROM bets WHERE game_date = $d AND system_id = $s AND COALESCE(status, 'bet') = 'bet'
ORDER BY strategy <> 'ev', strategy
