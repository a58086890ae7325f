-- predictions_to_grade: every stored prediction of the dates $a..$b with what grades it: the
-- decision (recommendation at decision_line, else at the row's line), the pitcher's game (his
-- strikeouts when he started), the game's status and how many of its starts are stored.
SELECT pr.game_id, pr.pitcher_id, pr.system_id, pr.recommendation, pr.line,
       pr.decision_line, pr.predicted_strikeouts,
       CASE WHEN pg.is_start THEN pg.strikeouts END AS actual_strikeouts,
       pg.is_start, g.status,
       (SELECT COUNT(*) FROM pitcher_games s
        WHERE s.game_id = pr.game_id AND s.is_start) AS starts_stored
FROM pitcher_strikeout_predictions pr
LEFT JOIN pitcher_games pg ON pg.game_id = pr.game_id AND pg.pitcher_id = pr.pitcher_id
LEFT JOIN games g ON g.game_id = pr.game_id
WHERE pr.game_date BETWEEN $a AND $b
