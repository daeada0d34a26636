"""The records: models, sessions and migrations."""

from storage import models
from storage.database import Database, DatabaseUnavailable
from storage.migrate import upgrade

__all__ = ["Database", "DatabaseUnavailable", "models", "upgrade"]
