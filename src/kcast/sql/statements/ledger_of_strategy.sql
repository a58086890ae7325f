-- ledger_of_strategy: every bet (never a lean) of the ledger of one strategy ($s) with the pitcher's name,
-- oldest first (kcast bets, its CSV).
SELECT b.game_date, b.system_id, b.strategy, b.game_id, b.pitcher_id, p.full_name AS pitcher,
       b.side, b.line, b.main_line, b.book, b.odds, b.decision_time, b.decided_at, b.stake,
       b.p_win, b.ev, b.fair_p_decision, b.fair_p_close, b.clv, b.ev_close, b.result, b.profit
FROM bets b LEFT JOIN players p ON p.player_id = b.pitcher_id
WHERE b.strategy = $s AND COALESCE(b.status, 'bet') = 'bet'
ORDER BY b.game_date, b.system_id, b.game_id, b.pitcher_id
