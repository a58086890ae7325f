-- latest_grade_before: when a prediction of a game before a date ($d) was last graded.
SELECT MAX(graded_at) AS t FROM pitcher_strikeout_predictions WHERE game_date < $d
