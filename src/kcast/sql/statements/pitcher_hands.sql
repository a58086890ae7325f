-- pitcher_hands: the throwing hand players knows for the given pitchers.
-- Parameters: $ids (pitcher ids).
SELECT player_id AS pitcher_id, throws
FROM players
WHERE throws IS NOT NULL AND player_id IN (SELECT UNNEST($ids))
