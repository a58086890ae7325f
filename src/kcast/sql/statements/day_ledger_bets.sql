-- day_ledger_bets: the bets (not leans) of a date ($d) and strategy ($s), with the pitcher's name,
-- opponent and home or away (kcast bets --date).
SELECT b.*, p.full_name, g.opponent, g.is_home FROM bets b
LEFT JOIN players p ON p.player_id = b.pitcher_id
LEFT JOIN (SELECT DISTINCT game_id, pitcher_id, opponent, is_home FROM pitcher_games) g
  USING (game_id, pitcher_id)
WHERE b.game_date = $d AND b.strategy = $s AND COALESCE(b.status, 'bet') = 'bet'
ORDER BY b.system_id, b.ev DESC
