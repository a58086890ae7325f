-- system_error_drift: each system's graded error by week (Monday to Sunday) next to its
-- long-run level, to catch a model that has drifted. Per week: predictions, MAE and bias
-- (mean predicted - actual); over the last four weeks with graded games up to that week
-- (rolling_*): the same, pooled; over everything graded for the system (long_run_*): the same.
-- drift is 'too_few' under 100 pooled predictions, 'mae_drift' when the rolling MAE exceeds
-- 1.10 x the long-run MAE, 'bias_drift' when the rolling bias is more than 0.4 K from the
-- long-run bias, else 'ok'.
WITH graded AS (
    SELECT
        system_id,
        CAST(game_date - INTERVAL (ISODOW(game_date) - 1) DAY AS DATE) AS week_start,
        predicted_strikeouts - actual_strikeouts AS error
    FROM pitcher_strikeout_predictions
    WHERE actual_strikeouts IS NOT NULL
),
weekly AS (
    SELECT
        system_id,
        week_start,
        COUNT(*) AS predictions,
        SUM(ABS(error)) AS abs_error_sum,
        SUM(error) AS error_sum
    FROM graded
    GROUP BY system_id, week_start
),
long_run AS (
    SELECT
        system_id,
        COUNT(*) AS long_run_n,
        AVG(ABS(error)) AS long_run_mae,
        AVG(error) AS long_run_bias
    FROM graded
    GROUP BY system_id
),
rolling AS (
    SELECT
        system_id,
        week_start,
        predictions,
        abs_error_sum / predictions AS mae,
        error_sum / predictions AS bias,
        COUNT(*) OVER (
            PARTITION BY system_id ORDER BY week_start DESC
            ROWS BETWEEN CURRENT ROW AND 3 FOLLOWING
        ) AS rolling_weeks,
        CAST(
            SUM(predictions) OVER (
                PARTITION BY system_id ORDER BY week_start DESC
                ROWS BETWEEN CURRENT ROW AND 3 FOLLOWING
            ) AS BIGINT
        ) AS rolling_n,
        SUM(abs_error_sum) OVER (
            PARTITION BY system_id ORDER BY week_start DESC
            ROWS BETWEEN CURRENT ROW AND 3 FOLLOWING
        ) AS rolling_abs_error_sum,
        SUM(error_sum) OVER (
            PARTITION BY system_id ORDER BY week_start DESC
            ROWS BETWEEN CURRENT ROW AND 3 FOLLOWING
        ) AS rolling_error_sum
    FROM weekly
)
SELECT
    r.system_id,
    r.week_start,
    CAST(r.week_start + INTERVAL 6 DAY AS DATE) AS week_end,
    r.predictions,
    r.mae,
    r.bias,
    r.rolling_weeks,
    r.rolling_n,
    r.rolling_abs_error_sum / r.rolling_n AS rolling_mae,
    r.rolling_error_sum / r.rolling_n AS rolling_bias,
    l.long_run_n,
    l.long_run_mae,
    l.long_run_bias,
    (r.rolling_abs_error_sum / r.rolling_n) / NULLIF(l.long_run_mae, 0) AS mae_ratio,
    CASE
        WHEN r.rolling_n < 100 THEN 'too_few'
        WHEN r.rolling_abs_error_sum / r.rolling_n > 1.10 * l.long_run_mae THEN 'mae_drift'
        WHEN ABS(r.rolling_error_sum / r.rolling_n - l.long_run_bias) > 0.4 THEN 'bias_drift'
        ELSE 'ok'
    END AS drift
FROM rolling AS r
JOIN long_run AS l ON l.system_id = r.system_id
