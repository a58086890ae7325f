-- picks: a date's ($d) stored predictions, every system's, with their decisions and grades.
SELECT game_id, game_date, pitcher_id, pitcher_name, team, opponent, is_home, system_id,
       model_version, predicted_strikeouts, predicted_median, k_p10, k_p90, line, over_odds,
       under_odds, book, p_over, p_under, edge, expected_value, confidence, recommendation,
       verdict, decision, decision_line, decision_book, decision_odds, decision_ev, stake,
       alternate_line, other_book, decision_reason, red_flags, reasons, created_at,
       actual_strikeouts, result
FROM pitcher_strikeout_predictions WHERE game_date = $d
