-- active_models_trained_through: the earliest date the active models are trained through, and
-- how many models are active.
SELECT MIN(trained_through) AS d, COUNT(*) AS n FROM model_registry WHERE is_active
