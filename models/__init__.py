"""closeloop's storage: SQLModel tables, the engine, migrations, and the functions that read and write them.

Only this package opens sessions.
"""
