-- alerts_of_day: the webhook alerts of a date ($d) already tried: sent or failed, per webhook.
SELECT alert_key, webhook, kind, status, fields, sent_at FROM alerts_sent WHERE game_date = $d
