-- performance_by_confidence_band: Does higher confidence really win more often?
-- Per system and confidence band (< 60, 60-65, 65-70, 70-75, 75+) of the graded bets: bets,
-- wins, losses, pushes, mean confidence, win rate and ROI at the stored odds.
-- Parameters: none.
WITH bets AS (
    SELECT
        system_id,
        confidence,
        result,
        CASE
            WHEN recommendation = 'OVER' THEN over_odds
            WHEN recommendation = 'UNDER' THEN under_odds
        END AS bet_odds,
        CASE
            WHEN confidence < 60 THEN '<60'
            WHEN confidence < 65 THEN '60-65'
            WHEN confidence < 70 THEN '65-70'
            WHEN confidence < 75 THEN '70-75'
            ELSE '75+'
        END AS confidence_band,
        CASE
            WHEN confidence < 60 THEN 0
            WHEN confidence < 65 THEN 60
            WHEN confidence < 70 THEN 65
            WHEN confidence < 75 THEN 70
            ELSE 75
        END AS band_low
    FROM pitcher_strikeout_predictions
    WHERE result IN ('win', 'loss', 'push')
),
scored AS (
    SELECT
        system_id,
        confidence_band,
        band_low,
        confidence,
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
    confidence_band,
    COUNT(*) AS bets,
    COUNT(CASE WHEN result = 'win' THEN 1 END) AS wins,
    COUNT(CASE WHEN result = 'loss' THEN 1 END) AS losses,
    COUNT(CASE WHEN result = 'push' THEN 1 END) AS pushes,
    AVG(confidence) AS mean_confidence,
    COUNT(CASE WHEN result = 'win' THEN 1 END)
        / NULLIF(COUNT(CASE WHEN result IN ('win', 'loss') THEN 1 END), 0) AS win_rate,
    SUM(profit) / NULLIF(COUNT(profit), 0) AS roi
FROM scored
GROUP BY system_id, confidence_band, band_low
ORDER BY system_id, band_low
