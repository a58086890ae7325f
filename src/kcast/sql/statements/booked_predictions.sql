-- booked_predictions: the stored predictions of games $g at a sportsbook's line (any book but
-- $request, the book of a line given in a request).
SELECT game_id, pitcher_id, system_id FROM pitcher_strikeout_predictions
WHERE game_id IN (SELECT UNNEST($g)) AND book IS NOT NULL AND book <> $request
