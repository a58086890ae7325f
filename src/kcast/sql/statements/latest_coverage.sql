-- latest_coverage: the daily coverage view's latest 21 days.
SELECT * FROM daily_coverage ORDER BY game_date DESC LIMIT 21
