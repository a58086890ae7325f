-- picks_today: What does the primary system bet on the date?
-- The day's bets of the primary system as the ledger holds them (strategy ev, status bet: the
-- edge gate keeps its leans in the ledger too, with status lean; decision = bet), then its
-- leans (a side without a bet: the prediction rows with a side and no bet in the ledger;
-- decision = lean), each with the pitcher, the teams, the side (recommendation), the line bet
-- (line; main_line is the card's line, alternate_line says whether they differ), book, odds,
-- stake (share of the bankroll; bets only), EV per unit, the confidence, the forecast, red flags
-- and (once graded) the result. Bets first, then leans, each most confident first.
-- Parameters: $date (default: the latest game_date with predictions), $system (default: the
-- primary system, MLB_PRIMARY_SYSTEM).
WITH rows_of_day AS (
    SELECT *
    FROM pitcher_strikeout_predictions
    WHERE system_id = $system AND game_date = $date
),
day_bets AS (
    SELECT *
    FROM bets
    WHERE system_id = $system AND game_date = $date AND strategy = 'ev'
        AND COALESCE(status, 'bet') = 'bet'
),
picked AS (
    SELECT
        b.game_date,
        COALESCE(p.pitcher_name, CAST(b.pitcher_id AS VARCHAR)) AS pitcher_name,
        b.pitcher_id,
        p.team,
        p.opponent,
        'bet' AS decision,
        b.side AS recommendation,
        p.confidence,
        b.line,
        b.main_line,
        b.line <> b.main_line AS alternate_line,
        b.book,
        b.odds,
        b.stake,
        b.ev,
        p.predicted_strikeouts,
        p.red_flags,
        p.actual_strikeouts,
        b.result,
        0 AS decision_order
    FROM day_bets AS b
    LEFT JOIN rows_of_day AS p ON p.game_id = b.game_id AND p.pitcher_id = b.pitcher_id
    UNION ALL
    SELECT
        p.game_date,
        p.pitcher_name,
        p.pitcher_id,
        p.team,
        p.opponent,
        'lean' AS decision,
        p.recommendation,
        p.confidence,
        COALESCE(p.decision_line, p.line) AS line,
        p.line AS main_line,
        COALESCE(p.decision_line, p.line) <> p.line AS alternate_line,
        COALESCE(p.decision_book, p.book) AS book,
        COALESCE(p.decision_odds, CASE WHEN p.recommendation = 'OVER' THEN p.over_odds
                                       ELSE p.under_odds END) AS odds,
        NULL AS stake,
        COALESCE(p.decision_ev, p.expected_value) AS ev,
        p.predicted_strikeouts,
        p.red_flags,
        p.actual_strikeouts,
        p.result,
        1 AS decision_order
    FROM rows_of_day AS p
    WHERE p.recommendation IN ('OVER', 'UNDER')
        AND NOT EXISTS (
            SELECT 1 FROM day_bets AS b WHERE b.game_id = p.game_id AND b.pitcher_id = p.pitcher_id
        )
)
SELECT
    game_date, pitcher_name, pitcher_id, team, opponent, decision, recommendation, confidence,
    line, main_line, alternate_line, book, odds, stake, ev, predicted_strikeouts, red_flags,
    actual_strikeouts, result
FROM picked
ORDER BY decision_order, confidence DESC, pitcher_id
