-- error_drift: Has any system's error drifted away from its long-run level lately?
-- system_error_drift for the eight weeks up to and including the date's week: weekly and
-- four-week rolling MAE and bias next to the long-run MAE and bias, with the drift flag (ok,
-- too_few, mae_drift: rolling MAE > 1.10 x long-run; bias_drift: rolling bias > 0.4 K off).
-- Parameters: $date (default: the latest game_date with predictions).
SELECT
    system_id,
    week_start,
    week_end,
    predictions,
    mae,
    bias,
    rolling_n,
    rolling_mae,
    rolling_bias,
    long_run_mae,
    long_run_bias,
    mae_ratio,
    drift
FROM system_error_drift
WHERE week_start <= $date
    AND week_start > CAST(CAST($date AS DATE) - INTERVAL 56 DAY AS DATE)
ORDER BY system_id, week_start
