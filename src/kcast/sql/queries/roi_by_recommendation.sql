-- roi_by_recommendation: Do the OVER bets or the UNDER bets make money?
-- Per system and side of the graded bets: bets, wins, losses, pushes, win rate, units won at
-- the stored American odds and ROI (bets without a price on their side left out of both).
-- Parameters: none.
SELECT
    system_id,
    recommendation,
    {{BET_SUMMARY}}
FROM graded_predictions
WHERE result IN ('win', 'loss', 'push')
GROUP BY system_id, recommendation
ORDER BY system_id, recommendation
