-- data_version: a fingerprint of the tables slates, features and graded history come from
-- (row counts and latest update times), for engines without a change stamp.
SELECT (SELECT COUNT(*) FROM pitcher_games) AS a,
       (SELECT MAX(updated_at) FROM pitcher_games) AS b,
       (SELECT COUNT(*) FROM games) AS c,
       (SELECT MAX(updated_at) FROM games) AS d,
       (SELECT COUNT(*) FROM players) AS e,
       (SELECT MAX(updated_at) FROM players) AS f,
       (SELECT MAX(graded_at) FROM pitcher_strikeout_predictions) AS g,
       (SELECT MAX(updated_at) FROM prop_lines) AS h
