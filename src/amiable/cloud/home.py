"""The data home (`$AMI_HOME`): the global catalog (accounts) and, per
region, a catalog and a snapshot store.

```
$AMI_HOME/
  global.db                 accounts and access keys
  regions/<region>/         one catalog and one store per region (as regions are used)
```
"""

import os
from pathlib import Path

from amiable.catalog.accounts import Accounts, v1_accounts
from amiable.catalog.database import open_database

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_KEY = ("test", "test")
GLOBAL_MIGRATIONS = (v1_accounts,)


def default_home() -> Path:
    env = os.environ.get("AMI_HOME")
    if env:
        return Path(env)
    data = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(data) / "amiable"


class Cloud:
    """Everything one data home holds; thread-safe, shared by all requests."""

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.accounts = Accounts(open_database(self.home / "global.db", GLOBAL_MIGRATIONS))
        self.accounts.ensure(DEFAULT_ACCOUNT, None, *DEFAULT_KEY)
