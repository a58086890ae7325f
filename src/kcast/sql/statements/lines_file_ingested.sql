-- lines_file_ingested: how many times a lines file ($t) was ingested without an error.
SELECT COUNT(*) AS n FROM ingest_log WHERE kind = 'lines' AND status = 'ok' AND target = $t
