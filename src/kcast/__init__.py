"""kcast: forecasts of MLB starting pitchers' strikeouts, compared with sportsbook prop lines.

Retrosheet notice: the information used here was obtained free of charge from and is copyrighted by
Retrosheet. Interested parties may contact Retrosheet at www.retrosheet.org.
"""

__version__ = "0.1.0"

RETROSHEET_NOTICE = (
    "The information used here was obtained free of charge from and is copyrighted by "
    "Retrosheet. Interested parties may contact Retrosheet at www.retrosheet.org."
)
