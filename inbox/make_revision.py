"""Write a new Alembic revision from the difference between the tables and a fresh schema.

Run through ``make migration MSG="what changed"``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from sportello.inbox.db import MIGRATIONS, make_engine, migrate


def main(message: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = ScriptDirectory.from_config(config).get_heads()
    number = max((int(h) for h in heads if h.isdigit()), default=0) + 1
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'schema.db'}")
        migrate(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.revision(config, message=message, autogenerate=True, rev_id=f"{number:04d}")


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "schema change")
