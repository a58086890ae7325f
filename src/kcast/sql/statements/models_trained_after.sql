-- models_trained_after: the active models trained on games after a date ($d).
SELECT system_id, trained_through FROM model_registry
WHERE is_active AND trained_through > $d
