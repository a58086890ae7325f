-- system_agreement: per game date and pitcher, how far apart the systems' predicted strikeouts
-- are (spread = max - min, rounded to 0.001 K), and per day the share of pitchers in strong
-- (spread <= {{AGREE_WITHIN}} K), moderate (above that, up to {{DISAGREE_OVER}} K) and weak
-- (> {{DISAGREE_OVER}} K) agreement: policy.agreement_band, the ensemble's own rule. Pitchers
-- predicted by a single system are labelled single_system and left out of the shares, so on any
-- day with a compared pitcher strong_share + moderate_share + weak_share = 1. Healthy: strong +
-- moderate above {{AGREEMENT_MIN_SHARE}} (kcast status checks it).
WITH per_pitcher AS (
    SELECT
        game_date,
        game_id,
        pitcher_id,
        MAX(pitcher_name) AS pitcher_name,
        MAX(team) AS team,
        MAX(opponent) AS opponent,
        COUNT(DISTINCT system_id) AS systems,
        MIN(predicted_strikeouts) AS min_predicted,
        MAX(predicted_strikeouts) AS max_predicted,
        ROUND(MAX(predicted_strikeouts) - MIN(predicted_strikeouts), 3) AS spread
    FROM pitcher_strikeout_predictions
    GROUP BY game_date, game_id, pitcher_id
),
classified AS (
    SELECT
        *,
        CASE
            WHEN systems < 2 THEN 'single_system'
            WHEN spread <= {{AGREE_WITHIN}} THEN 'strong'
            WHEN spread <= {{DISAGREE_OVER}} THEN 'moderate'
            ELSE 'weak'
        END AS agreement
    FROM per_pitcher
)
SELECT
    *,
    COUNT(CASE WHEN agreement <> 'single_system' THEN 1 END)
        OVER (PARTITION BY game_date) AS pitchers_compared,
    AVG(CASE WHEN agreement = 'strong' THEN 1.0 WHEN agreement <> 'single_system' THEN 0.0 END)
        OVER (PARTITION BY game_date) AS strong_share,
    AVG(CASE WHEN agreement = 'moderate' THEN 1.0 WHEN agreement <> 'single_system' THEN 0.0 END)
        OVER (PARTITION BY game_date) AS moderate_share,
    AVG(CASE WHEN agreement = 'weak' THEN 1.0 WHEN agreement <> 'single_system' THEN 0.0 END)
        OVER (PARTITION BY game_date) AS weak_share
FROM classified
