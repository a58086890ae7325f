-- graded_predictions: every graded prediction (actual_strikeouts known), each system's, with
-- what the performance views and queries score it by: error = predicted - actual strikeouts,
-- decision_line and odds = the line and American price of the row's decision (its bet or lean:
-- a bet at an alternate line or another book is priced at its own rung, not at the card's
-- line; rows stored before decisions were kept use the card's price on the recommended side),
-- and profit = units won by a one-unit bet at that price ({{UNITS_DEFINITION}}). profit is NULL
-- for a row that is not a bet (result pass, no_line or void) and for a bet without a price, so
-- COUNT(profit) counts the priced bets and SUM(profit) is the units won. bet_odds is odds
-- (its older name).
WITH priced AS (
    SELECT
        system_id,
        game_id,
        pitcher_id,
        game_date,
        line,
        COALESCE(decision_line, line) AS decision_line,
        decision,
        edge,
        confidence,
        recommendation,
        result,
        predicted_strikeouts,
        actual_strikeouts,
        predicted_strikeouts - actual_strikeouts AS error,
        CASE
            WHEN recommendation NOT IN ('OVER', 'UNDER') THEN NULL
            WHEN decision_odds IS NOT NULL THEN decision_odds
            WHEN recommendation = 'OVER' THEN over_odds
            ELSE under_odds
        END AS odds
    FROM pitcher_strikeout_predictions
    WHERE actual_strikeouts IS NOT NULL
)
SELECT
    *,
    odds AS bet_odds,
    {{UNITS}} AS profit
FROM priced
