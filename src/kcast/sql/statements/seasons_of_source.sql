-- seasons_of_source: how many appearances each season holds from one source ($s).
SELECT season, COUNT(*) AS n FROM pitcher_games WHERE source = $s GROUP BY season
