-- opening_prices: each book's opening price of each line between two dates ($a, $b) (for
-- closing-line value).
SELECT pitcher_id, game_date, book, line, over_odds AS open_over_odds,
       under_odds AS open_under_odds
FROM prop_lines WHERE snapshot = 'open' AND pitcher_id IS NOT NULL
  AND game_date BETWEEN $a AND $b
