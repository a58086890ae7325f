-- bet_performance_of_cut: the bet_performance rows of one cut ($c) and strategy ($s) (kcast bets).
SELECT * FROM bet_performance WHERE cut = $c AND strategy = $s
ORDER BY window_order, system_id, cut_value
