-- ledger_between: the ledger's latest 200 bets (no leans) of one strategy ($s) from $a to $b
-- (never one after $b), of every pitcher or of one ($p; NULL: every pitcher), with the
-- pitcher's name and teams.
SELECT b.game_date, b.system_id AS system, b.strategy, p.full_name AS pitcher, g.team,
       g.opponent, b.side, b.line, b.book, b.odds, b.stake, b.p_win, b.ev, b.clv, b.result,
       b.profit
FROM bets b LEFT JOIN players p ON p.player_id = b.pitcher_id
LEFT JOIN (SELECT DISTINCT game_id, pitcher_id, team, opponent FROM pitcher_games) g
  USING (game_id, pitcher_id)
WHERE b.strategy = $s AND b.game_date BETWEEN $a AND $b AND COALESCE(b.status, 'bet') = 'bet'
  AND ($p IS NULL OR b.pitcher_id = $p)
ORDER BY b.game_date DESC, b.system_id, p.full_name LIMIT 200
