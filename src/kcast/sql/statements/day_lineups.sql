-- day_lineups: the batting lineups known for a date's ($d) games: hands of the batters.
SELECT game_id, team, lineup_lhb, lineup_rhb, lineup_shb FROM team_batting_games
WHERE game_date = $d AND lineup_rhb IS NOT NULL
