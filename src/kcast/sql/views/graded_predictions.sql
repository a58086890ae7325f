-- graded_predictions: every graded prediction (actual_strikeouts known), each system's, with
-- what the performance views and queries score it by: error = predicted - actual strikeouts,
-- bet_odds = the stored American price on the recommended side (OVER: over_odds, UNDER:
-- under_odds), and profit = units won by a one-unit bet at that price (win: decimal odds - 1,
-- i.e. odds / 100 for plus odds and 100 / -odds for minus odds; loss: -1; push: 0). profit is
-- NULL for a row that is not a bet (result pass or no_line) and for a bet without a price on
-- its side, so COUNT(profit) counts the priced bets and SUM(profit) is the units won.
WITH priced AS (
    SELECT
        system_id,
        game_id,
        pitcher_id,
        game_date,
        line,
        edge,
        confidence,
        recommendation,
        result,
        predicted_strikeouts,
        actual_strikeouts,
        predicted_strikeouts - actual_strikeouts AS error,
        CASE
            WHEN recommendation = 'OVER' THEN over_odds
            WHEN recommendation = 'UNDER' THEN under_odds
        END AS bet_odds
    FROM pitcher_strikeout_predictions
    WHERE actual_strikeouts IS NOT NULL
)
SELECT
    *,
    CASE
        WHEN bet_odds IS NULL THEN NULL
        WHEN result = 'win' AND bet_odds > 0 THEN bet_odds / 100.0
        WHEN result = 'win' THEN 100.0 / (0 - bet_odds)
        WHEN result = 'loss' THEN -1.0
        WHEN result = 'push' THEN 0.0
    END AS profit
FROM priced
