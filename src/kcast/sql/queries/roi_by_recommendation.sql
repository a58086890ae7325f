-- roi_by_recommendation: Do the OVER bets or the UNDER bets make money?
-- Per system and side of the graded bets: bets, wins, losses, pushes, win rate, units won at
-- the stored American odds and ROI (bets without a price on their side left out of both).
-- Parameters: none.
WITH bets AS (
    SELECT
        system_id,
        recommendation,
        result,
        CASE
            WHEN recommendation = 'OVER' THEN over_odds
            WHEN recommendation = 'UNDER' THEN under_odds
        END AS bet_odds
    FROM pitcher_strikeout_predictions
    WHERE result IN ('win', 'loss', 'push')
),
scored AS (
    SELECT
        system_id,
        recommendation,
        result,
        CASE
            WHEN bet_odds IS NULL THEN NULL
            WHEN result = 'push' THEN 0.0
            WHEN result = 'loss' THEN -1.0
            WHEN bet_odds > 0 THEN bet_odds / 100.0
            ELSE 100.0 / (0 - bet_odds)
        END AS profit
    FROM bets
)
SELECT
    system_id,
    recommendation,
    COUNT(*) AS bets,
    COUNT(CASE WHEN result = 'win' THEN 1 END) AS wins,
    COUNT(CASE WHEN result = 'loss' THEN 1 END) AS losses,
    COUNT(CASE WHEN result = 'push' THEN 1 END) AS pushes,
    COUNT(CASE WHEN result = 'win' THEN 1 END)
        / NULLIF(COUNT(CASE WHEN result IN ('win', 'loss') THEN 1 END), 0) AS win_rate,
    COUNT(profit) AS priced_bets,
    SUM(profit) AS units,
    SUM(profit) / NULLIF(COUNT(profit), 0) AS roi
FROM scored
GROUP BY system_id, recommendation
ORDER BY system_id, recommendation
