-- actual_starters: who really started each game of a date ($d), with the home team.
SELECT p.game_id, p.game_date, p.season, p.pitcher_id, p.team, p.opponent, p.is_home,
       g.home_team, 'actual' AS starter_source
FROM pitcher_games p LEFT JOIN games g USING (game_id)
WHERE p.game_date = $d AND p.is_start
