-- bets_by_system: How do each system's bets do at the price taken and against the close?
-- bet_performance for every system and strategy over all its graded bets, per time window
-- (last_7_days, last_30_days, season, all): bets, wins, losses, pushes, voids, units won and ROI
-- flat (one unit a bet), staked, profit and ROI staked (at the stakes taken), mean CLV in probability points, mean EV of the price taken
-- against the fair close, and the share of bets that beat the close.
-- Parameters: none.
SELECT
    system_id, strategy, time_window, window_start, window_end, bets, wins, losses, pushes,
    voids, units, roi_flat, staked, profit, roi_staked, clv_points, ev_close, beat_close_share
FROM bet_performance
WHERE cut = 'all'
ORDER BY strategy, window_order, system_id
