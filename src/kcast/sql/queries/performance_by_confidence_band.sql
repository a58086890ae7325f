-- performance_by_confidence_band: Does higher confidence really win more often?
-- Per system and confidence band (< 60, 60-65, 65-70, 70-75, 75+) of the graded bets: mean
-- confidence, bets, wins, losses, pushes, win rate, priced bets, units and ROI at the stored
-- odds.
-- Parameters: none.
WITH banded AS (
    SELECT
        system_id,
        confidence,
        result,
        profit,
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
    FROM graded_predictions
    WHERE result IN ('win', 'loss', 'push')
)
SELECT
    system_id,
    confidence_band,
    AVG(confidence) AS mean_confidence,
    {{BET_SUMMARY}}
FROM banded
GROUP BY system_id, confidence_band, band_low
ORDER BY system_id, band_low
