-- model_versions_in_use: Which model versions made the predictions, when, and how well?
-- Per system and model_version: first and last game date, rows, rows on the date, graded rows,
-- MAE, and from model_registry (when the version is registered) its training cut-off and
-- whether it is the active version.
-- Parameters: $date (default: the latest game_date with predictions).
WITH used AS (
    SELECT
        system_id,
        model_version,
        MIN(game_date) AS first_date,
        MAX(game_date) AS last_date,
        COUNT(*) AS predictions,
        COUNT(CASE WHEN game_date = $date THEN 1 END) AS predictions_on_date,
        COUNT(actual_strikeouts) AS graded,
        AVG(ABS(predicted_strikeouts - actual_strikeouts)) AS mae
    FROM pitcher_strikeout_predictions
    GROUP BY system_id, model_version
)
SELECT
    u.system_id,
    u.model_version,
    u.first_date,
    u.last_date,
    u.predictions,
    u.predictions_on_date,
    u.graded,
    u.mae,
    r.trained_through,
    r.is_active
FROM used AS u
LEFT JOIN model_registry AS r ON r.system_id = u.system_id AND r.version = u.model_version
ORDER BY u.system_id, u.first_date, u.model_version
