-- bets_by_cut: Where do the primary system's bets pay: by book, line, rung or EV bucket?
-- bet_performance of the primary system, every strategy, last_30_days and all, cut by book, by
-- line, by rung (main or alternate) and by EV bucket (the stated EV at the price taken): bets,
-- W-L-P, units won, ROI flat (one unit a bet) and ROI staked (at the stakes taken), mean CLV in probability points, mean EV against the fair
-- close and the share of bets that beat the close.
-- Parameters: $system (default: the primary system, MLB_PRIMARY_SYSTEM).
SELECT
    strategy, time_window, cut, cut_value, bets, wins, losses, pushes, units, roi_flat, roi_staked,
    clv_points, ev_close,
    beat_close_share
FROM bet_performance
WHERE system_id = $system AND cut <> 'all' AND time_window IN ('last_30_days', 'all')
ORDER BY strategy, window_order, cut, cut_value
