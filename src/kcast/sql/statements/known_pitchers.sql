-- known_pitchers: the pitchers the warehouse knows (a player, or one with a game).
SELECT player_id AS pitcher_id FROM players
UNION SELECT DISTINCT pitcher_id FROM pitcher_games
