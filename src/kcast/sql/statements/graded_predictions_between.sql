-- graded_predictions_between: every graded prediction between two dates ($a, $b) with what its
-- scores need: the forecast and what happened, the stated P(over) at the line, and the
-- decision (its side, line, book and price; the row's own for rows stored before decisions).
SELECT system_id, game_date, pitcher_id, book, predicted_strikeouts, actual_strikeouts, line, p_over,
       recommendation, result, over_odds, under_odds,
       COALESCE(decision_line, line) AS decision_line,
       COALESCE(decision_book, book) AS decision_book,
       COALESCE(decision_odds, CASE WHEN recommendation = 'OVER' THEN over_odds
                                    WHEN recommendation = 'UNDER' THEN under_odds END)
           AS decision_odds
FROM pitcher_strikeout_predictions
WHERE actual_strikeouts IS NOT NULL AND game_date BETWEEN $a AND $b
