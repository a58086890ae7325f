-- known_pitchers_of: which of the pitchers $ids the warehouse knows (a player, or one with a
-- game).
SELECT player_id AS pitcher_id FROM players WHERE player_id IN (SELECT UNNEST($ids))
UNION SELECT DISTINCT pitcher_id FROM pitcher_games WHERE pitcher_id IN (SELECT UNNEST($ids))
