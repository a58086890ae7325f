-- ensemble_vs_members: On the same starts, is the ensemble better than its members?
-- Starts graded by every system in the table form a common set; per system on it: starts, MAE,
-- bias, MAE minus the ensemble's (positive = worse than ensemble_v1), the share of starts
-- where the system was closest (ties count for each), bets, win rate and ROI.
-- Parameters: none.
WITH graded AS (
    SELECT
        game_id,
        pitcher_id,
        system_id,
        predicted_strikeouts - actual_strikeouts AS error,
        result,
        CASE
            WHEN recommendation = 'OVER' THEN over_odds
            WHEN recommendation = 'UNDER' THEN under_odds
        END AS bet_odds
    FROM pitcher_strikeout_predictions
    WHERE actual_strikeouts IS NOT NULL
),
common AS (
    SELECT game_id, pitcher_id
    FROM graded
    GROUP BY game_id, pitcher_id
    HAVING COUNT(DISTINCT system_id) = (SELECT COUNT(DISTINCT system_id) FROM graded)
),
scored AS (
    SELECT
        g.system_id,
        g.error,
        g.result,
        CASE
            WHEN ABS(g.error) = MIN(ABS(g.error)) OVER (PARTITION BY g.game_id, g.pitcher_id)
                THEN 1.0
            ELSE 0.0
        END AS closest,
        CASE
            WHEN g.result NOT IN ('win', 'loss', 'push') OR g.bet_odds IS NULL THEN NULL
            WHEN g.result = 'push' THEN 0.0
            WHEN g.result = 'loss' THEN -1.0
            WHEN g.bet_odds > 0 THEN g.bet_odds / 100.0
            ELSE 100.0 / (0 - g.bet_odds)
        END AS profit
    FROM graded AS g
    JOIN common AS c ON c.game_id = g.game_id AND c.pitcher_id = g.pitcher_id
),
per_system AS (
    SELECT
        system_id,
        COUNT(*) AS starts,
        AVG(ABS(error)) AS mae,
        AVG(error) AS bias,
        AVG(closest) AS closest_share,
        COUNT(CASE WHEN result IN ('win', 'loss', 'push') THEN 1 END) AS bets,
        COUNT(CASE WHEN result = 'win' THEN 1 END)
            / NULLIF(COUNT(CASE WHEN result IN ('win', 'loss') THEN 1 END), 0) AS win_rate,
        SUM(profit) / NULLIF(COUNT(profit), 0) AS roi
    FROM scored
    GROUP BY system_id
)
SELECT
    system_id,
    starts,
    mae,
    bias,
    mae - MAX(CASE WHEN system_id = 'ensemble_v1' THEN mae END) OVER () AS mae_minus_ensemble,
    closest_share,
    bets,
    win_rate,
    roi
FROM per_system
ORDER BY mae, system_id
