-- performance_by_system: How good is each system, lately and overall?
-- system_performance for every system and window (last_7_days, last_30_days, season, all,
-- ending at the latest graded date): graded count, MAE, bias, RMSE, bets, win rate, units, ROI.
-- Parameters: none.
SELECT
    system_id,
    time_window,
    window_start,
    window_end,
    graded,
    mae,
    bias,
    rmse,
    within_1k,
    bets,
    wins,
    losses,
    pushes,
    win_rate,
    priced_bets,
    units,
    roi
FROM system_performance
ORDER BY window_order, system_id
