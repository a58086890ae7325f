-- latest_day_quotes: the latest captured price of each (pitcher, book, line) of a date ($d):
-- the last capture, else the close, else a posted price, else the open.
SELECT pitcher_id, book, line, over_odds, under_odds
FROM (
    SELECT
        pitcher_id, book, line, over_odds, under_odds,
        ROW_NUMBER() OVER (
            PARTITION BY pitcher_id, book, line
            ORDER BY
                CASE WHEN captured_at IS NULL THEN 1 ELSE 0 END,
                captured_at DESC,
                CASE snapshot WHEN 'close' THEN 0 WHEN 'posted' THEN 1 ELSE 2 END
        ) AS r
    FROM prop_lines
    WHERE game_date = $d AND pitcher_id IS NOT NULL
) AS q
WHERE r = 1
