-- ensemble_vs_members: On the same starts, is the primary system better than the others?
-- Starts graded by every system in the table form a common set; per system on it: starts, MAE,
-- bias, MAE minus the primary system's (positive = worse than the primary, by default the
-- ensemble), the share of starts where the system was closest (ties count for each), and how
-- its bets did (bets, wins, losses, pushes, win rate, priced bets, units, ROI).
-- Parameters: $system (default: the primary system, MLB_PRIMARY_SYSTEM).
WITH common AS (
    SELECT game_id, pitcher_id
    FROM graded_predictions
    GROUP BY game_id, pitcher_id
    HAVING COUNT(DISTINCT system_id) = (SELECT COUNT(DISTINCT system_id) FROM graded_predictions)
),
scored AS (
    SELECT
        g.system_id,
        g.error,
        g.result,
        g.profit,
        CASE
            WHEN ABS(g.error) = MIN(ABS(g.error)) OVER (PARTITION BY g.game_id, g.pitcher_id)
                THEN 1.0
            ELSE 0.0
        END AS closest
    FROM graded_predictions AS g
    JOIN common AS c ON c.game_id = g.game_id AND c.pitcher_id = g.pitcher_id
),
per_system AS (
    SELECT
        system_id,
        COUNT(*) AS starts,
        AVG(ABS(error)) AS mae,
        AVG(error) AS bias,
        AVG(closest) AS closest_share,
        {{BET_SUMMARY}}
    FROM scored
    GROUP BY system_id
)
SELECT
    *,
    mae - MAX(CASE WHEN system_id = $system THEN mae END) OVER () AS mae_minus_primary
FROM per_system
ORDER BY mae, system_id
