-- first_game_date: the date of the warehouse's first game (null when it has none).
SELECT MIN(game_date) AS d FROM pitcher_games
