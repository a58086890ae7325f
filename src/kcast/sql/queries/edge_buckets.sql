-- edge_buckets: Do bigger edges (predicted - line) pay off?
-- Per system and size of |edge| (< 0.5, 0.5-0.75, 0.75-1.0, 1.0-1.5, 1.5+ K) over graded
-- starts with a line: starts, the share where the result fell on the edge's side (over for a
-- positive edge, under for a negative one; pushes count as misses), bets, win rate and ROI.
-- Parameters: none.
WITH graded AS (
    SELECT
        system_id,
        result,
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
        END AS edge_side_hit,
        CASE
            WHEN recommendation = 'OVER' THEN over_odds
            WHEN recommendation = 'UNDER' THEN under_odds
        END AS bet_odds
    FROM pitcher_strikeout_predictions
    WHERE actual_strikeouts IS NOT NULL AND line IS NOT NULL AND edge IS NOT NULL
),
scored AS (
    SELECT
        system_id,
        result,
        edge_bucket,
        bucket_low,
        edge_side_hit,
        CASE
            WHEN result NOT IN ('win', 'loss', 'push') OR bet_odds IS NULL THEN NULL
            WHEN result = 'push' THEN 0.0
            WHEN result = 'loss' THEN -1.0
            WHEN bet_odds > 0 THEN bet_odds / 100.0
            ELSE 100.0 / (0 - bet_odds)
        END AS profit
    FROM graded
)
SELECT
    system_id,
    edge_bucket,
    COUNT(*) AS starts,
    AVG(edge_side_hit) AS edge_side_hit_rate,
    COUNT(CASE WHEN result IN ('win', 'loss', 'push') THEN 1 END) AS bets,
    COUNT(CASE WHEN result = 'win' THEN 1 END)
        / NULLIF(COUNT(CASE WHEN result IN ('win', 'loss') THEN 1 END), 0) AS win_rate,
    SUM(profit) / NULLIF(COUNT(profit), 0) AS roi
FROM scored
GROUP BY system_id, edge_bucket, bucket_low
ORDER BY system_id, bucket_low
