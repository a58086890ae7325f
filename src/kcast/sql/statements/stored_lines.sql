-- stored_lines: every stored line of a pitcher between two dates ($a, $b), at least 0.5.
SELECT pitcher_id, game_date, book, line, over_odds, under_odds, snapshot, is_main,
       projection, source, captured_at, game_time
FROM prop_lines
WHERE pitcher_id IS NOT NULL AND game_date BETWEEN $a AND $b AND line >= 0.5
