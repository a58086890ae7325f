-- graded_rule_bets: the ledger's graded bets (win, loss or push) of games before a date ($d),
-- with what makes their betting rule (strategy, system, decision time, main or alternate rung)
-- and what a rule's record is judged by.
SELECT strategy, system_id, COALESCE(decision_time, 'now') AS decision_time, line, main_line,
       odds, result, stake, clv, ev_close
FROM bets
WHERE game_date < $d AND result IN ('win', 'loss', 'push')
