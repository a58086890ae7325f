-- calibration_by_decile: When a system says P(over) = x, does the over come in x of the time?
-- Per system, graded starts with a line and no push are cut into ten equal groups (deciles) by
-- stated P(over | no push) = p_over / (p_over + p_under), ties broken by game and pitcher; per
-- decile: starts, mean stated probability, observed over rate and the gap (observed - stated).
-- Parameters: none.
WITH graded AS (
    SELECT
        system_id,
        game_id,
        pitcher_id,
        p_over / (p_over + p_under) AS stated,
        CASE WHEN actual_strikeouts > line THEN 1.0 ELSE 0.0 END AS went_over
    FROM pitcher_strikeout_predictions
    WHERE actual_strikeouts IS NOT NULL
        AND line IS NOT NULL
        AND actual_strikeouts <> line
        AND p_over IS NOT NULL
        AND p_under IS NOT NULL
        AND p_over + p_under > 0
),
ranked AS (
    SELECT
        system_id,
        stated,
        went_over,
        NTILE(10) OVER (PARTITION BY system_id ORDER BY stated, game_id, pitcher_id) AS decile
    FROM graded
)
SELECT
    system_id,
    decile,
    COUNT(*) AS starts,
    MIN(stated) AS min_stated,
    MAX(stated) AS max_stated,
    AVG(stated) AS mean_stated,
    AVG(went_over) AS observed_over_rate,
    AVG(went_over) - AVG(stated) AS gap
FROM ranked
GROUP BY system_id, decile
ORDER BY system_id, decile
