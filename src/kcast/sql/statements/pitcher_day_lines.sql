-- pitcher_day_lines: every stored line of a pitcher ($p) on a date ($d), at least 0.5.
SELECT book, line, over_odds, under_odds, snapshot, is_main FROM prop_lines
WHERE pitcher_id = $p AND game_date = $d AND line >= 0.5
