-- probable_starters: the probable pitchers stored from the MLB Stats API for a date ($d), one
-- row per side, games postponed, cancelled or suspended left out.
SELECT game_id, game_date, season, home_probable_id AS pitcher_id, home_team AS team,
       away_team AS opponent, TRUE AS is_home, home_team, 'probable' AS starter_source
FROM games WHERE game_date = $d AND home_probable_id IS NOT NULL
  AND COALESCE(status, '') NOT IN ('postponed', 'cancelled', 'suspended')
UNION ALL
SELECT game_id, game_date, season, away_probable_id, away_team, home_team, FALSE,
       home_team, 'probable'
FROM games WHERE game_date = $d AND away_probable_id IS NOT NULL
  AND COALESCE(status, '') NOT IN ('postponed', 'cancelled', 'suspended')
