"""Alembic environment: runs migrations on the engine closeloop hands over (see models.db)."""

from alembic import context
from sqlmodel import SQLModel

import models.tables  # noqa: F401

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
