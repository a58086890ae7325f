-- edge_buckets: Do bigger edges (predicted - line) pay off?
-- Per system and size of |edge| (< 0.5, 0.5-0.75, 0.75-1.0, 1.0-1.5, 1.5+ K) over graded
-- starts with a line: starts, the share where the result fell on the edge's side (over for a
-- positive edge, under for a negative one; pushes count as misses), and how the bets did
-- (bets, wins, losses, pushes, win rate, priced bets, units, ROI).
-- Parameters: none.
WITH bucketed AS (
    SELECT
        system_id,
        result,
        profit,
        CASE
            WHEN ABS(edge) < 0.5 THEN '<0.5'
            WHEN ABS(edge) < 0.75 THEN '0.5-0.75'
            WHEN ABS(edge) < 1.0 THEN '0.75-1.0'
            WHEN ABS(edge) < 1.5 THEN '1.0-1.5'
            ELSE '1.5+'
        END AS edge_bucket,
        CASE
            WHEN ABS(edge) < 0.5 THEN 0.0
            WHEN ABS(edge) < 0.75 THEN 0.5
            WHEN ABS(edge) < 1.0 THEN 0.75
            WHEN ABS(edge) < 1.5 THEN 1.0
            ELSE 1.5
        END AS bucket_low,
        CASE
            WHEN edge > 0 AND actual_strikeouts > line THEN 1.0
            WHEN edge < 0 AND actual_strikeouts < line THEN 1.0
            ELSE 0.0
        END AS edge_side_hit
    FROM graded_predictions
    WHERE line IS NOT NULL AND edge IS NOT NULL
)
SELECT
    system_id,
    edge_bucket,
    COUNT(*) AS starts,
    AVG(edge_side_hit) AS edge_side_hit_rate,
    {{BET_SUMMARY}}
FROM bucketed
GROUP BY system_id, edge_bucket, bucket_low
ORDER BY system_id, bucket_low
