-- red_flag_summary: How often does each red flag fire, and how do flagged starts turn out?
-- For the primary system (by default the ensemble), per red flag: starts flagged on the date,
-- starts flagged up to and including it, their share of all starts, the MAE of the flagged
-- graded starts next to the MAE of all graded starts, and the flagged picks' wins, losses and
-- win rate. member_missing means an ensemble member did not answer (a breaker sign).
-- Parameters: $date (default: the latest game_date with predictions), $system (default: the
-- primary system, MLB_PRIMARY_SYSTEM).
WITH flags AS (
    {{RED_FLAGS_TABLE}}
),
shown AS (
    SELECT
        game_date,
        ',' || COALESCE(red_flags, '') || ',' AS flag_list,
        recommendation,
        result,
        ABS(predicted_strikeouts - actual_strikeouts) AS abs_error
    FROM pitcher_strikeout_predictions
    WHERE system_id = $system AND game_date <= $date
),
overall AS (
    SELECT COUNT(*) AS starts, AVG(abs_error) AS mae_all FROM shown
)
SELECT
    f.flag,
    COUNT(CASE WHEN e.game_date = $date THEN 1 END) AS flagged_on_date,
    COUNT(e.game_date) AS flagged_to_date,
    COUNT(e.game_date) / MAX(o.starts) AS share_to_date,
    AVG(e.abs_error) AS mae_flagged,
    MAX(o.mae_all) AS mae_all,
    COUNT(CASE WHEN e.recommendation IN ('OVER', 'UNDER') THEN 1 END) AS picks,
    COUNT(CASE WHEN e.result = 'win' THEN 1 END) AS wins,
    COUNT(CASE WHEN e.result = 'loss' THEN 1 END) AS losses,
    COUNT(CASE WHEN e.result = 'win' THEN 1 END)
        / NULLIF(COUNT(CASE WHEN e.result IN ('win', 'loss') THEN 1 END), 0) AS win_rate
FROM flags AS f
CROSS JOIN overall AS o
LEFT JOIN shown AS e ON e.flag_list LIKE '%,' || f.flag || ',%'
GROUP BY f.flag
ORDER BY flagged_to_date DESC, f.flag
