-- agreement_today: How closely did the systems agree on the date?
-- Counts and shares of pitchers in strong (spread <= {{AGREE_WITHIN}} K), moderate (up to
-- {{DISAGREE_OVER}} K) and weak (> {{DISAGREE_OVER}} K) agreement, their sum
-- strong_or_moderate_share (healthy above {{AGREEMENT_MIN_SHARE}}), mean and largest spread.
-- Parameters: $date (default: the latest game_date with predictions).
SELECT
    game_date,
    MAX(pitchers_compared) AS pitchers_compared,
    COUNT(CASE WHEN agreement = 'strong' THEN 1 END) AS strong,
    COUNT(CASE WHEN agreement = 'moderate' THEN 1 END) AS moderate,
    COUNT(CASE WHEN agreement = 'weak' THEN 1 END) AS weak,
    COUNT(CASE WHEN agreement = 'single_system' THEN 1 END) AS single_system,
    MAX(strong_share) AS strong_share,
    MAX(moderate_share) AS moderate_share,
    MAX(weak_share) AS weak_share,
    MAX(strong_share) + MAX(moderate_share) AS strong_or_moderate_share,
    AVG(CASE WHEN systems >= 2 THEN spread END) AS mean_spread,
    MAX(spread) AS max_spread
FROM system_agreement
WHERE game_date = $date
GROUP BY game_date
