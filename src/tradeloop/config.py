"""Settings, read from the environment with the prefix ``TRADELOOP_``.

The data directory holds everything a self-hosted install keeps on disk: the SQLite database (unless
``TRADELOOP_DATABASE_URL`` points elsewhere), uploaded evidence files and the generated secret key.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path(user_data_dir("tradeloop", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRADELOOP_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    secret_key: str | None = None
    #: Cookies get the Secure flag; set when served over HTTPS.
    secure_cookies: bool = False
    session_max_age_seconds: int = 12 * 3600
    #: Failed logins per user name (and per client address) allowed in the window before refusal.
    login_max_failures: int = 5
    login_failure_window_seconds: int = 15 * 60
    #: Evidence uploads: largest accepted file.
    max_upload_bytes: int = 10 * 1024 * 1024
    #: Customs data exchange: the folder the enterprise's exchange client watches (default
    #: DATA_DIR/exchange), the DXP user id and transmitting enterprise of BaseTransfer, the signer
    #: ("none", or "test" — a throw-away RSA-SHA1 key for demos and tests; never for real customs).
    exchange_dir: Path | None = None
    customs_dxp_id: str = "DXPENT0000000000"
    customs_transfer_code: str | None = None
    customs_transfer_name: str | None = None
    customs_signer: str = "none"
    #: Seconds between exchange rounds in `tradeloop serve` (0 = no background exchange), and whether the
    #: customs simulator answers the outbox (demo only).
    exchange_interval_seconds: float = 0
    customs_simulator: bool = False
    #: Seconds between webhook delivery rounds in `tradeloop serve` (0 = webhooks are queued, not sent).
    webhook_dispatch_seconds: float = 0
    default_locale: str = "zh_CN"
    default_timezone: str = "Asia/Shanghai"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'tradeloop.sqlite3'}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @cached_property
    def resolved_secret_key(self) -> str:
        """The configured key, else one generated once and kept in the data directory (mode 0600)."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


def load_settings(data_dir: Path | None = None, **overrides) -> Settings:
    if data_dir is not None:
        overrides["data_dir"] = Path(data_dir)
    return Settings(**overrides)
