-- bet_ledger: every graded bet of the bets table (status bet: a lean is never in
-- the money), with what the bet views score it by:
-- units = profit of a one-unit bet at the price taken ({{UNITS_DEFINITION}}; NULL for a void
-- bet), beat_close = 1 when the
-- price taken pays more than the fair closing price (ev_close > 0; NULL without a fair close),
-- rung = main or alt (an alternate line), and ev_bucket = the stated EV per unit at the price
-- taken: below {{EV_BUCKET_SMALL}}, {{EV_BUCKET_SMALL}} to {{EV_BUCKET_LARGE}}, or above.
SELECT
    system_id,
    strategy,
    game_id,
    pitcher_id,
    game_date,
    side,
    line,
    CASE WHEN line = main_line THEN 'main' ELSE 'alt' END AS rung,
    book,
    odds,
    decided_at,
    decision_time,
    stake,
    ev,
    CASE
        WHEN ev < {{EV_BUCKET_SMALL}} THEN 'small'
        WHEN ev < {{EV_BUCKET_LARGE}} THEN 'medium'
        ELSE 'large'
    END AS ev_bucket,
    fair_p_decision,
    fair_p_close,
    clv,
    ev_close,
    CASE WHEN ev_close IS NULL THEN NULL WHEN ev_close > 0 THEN 1.0 ELSE 0.0 END AS beat_close,
    result,
    profit,
    {{UNITS}} AS units
FROM bets
WHERE result IS NOT NULL AND COALESCE(status, 'bet') = 'bet'
