"""The bot's SQLite storage: migrations and one module per kind of record.

Every function takes the ``sqlite_utils.Database`` from ``storage.db.open_database`` first,
returns typed frozen rows, and commits what it changes. Nothing here imports Telegram.
"""
