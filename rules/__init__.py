"""The pure rules beneath everything: procedures, timelines, working days, dates, notices, recipients."""
