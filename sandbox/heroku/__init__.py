"""A local stand-in for the Heroku Platform API and the Heroku Data (Postgres) API.

`create_app(World(), api_key=..., contracts_dir=...)` serves both on one port with their
real wire formats; `World` holds the simulated account and its rules; the databases sit
behind `DatabaseBackend` (`SimulatedBackend` here, real PostgreSQL in the sandbox).
"""

from sandbox.heroku.app import create_app
from sandbox.heroku.backend import (
    DatabaseBackend,
    DatabaseStatus,
    SimulatedBackend,
    SimulationParams,
    Writers,
)
from sandbox.heroku.bucket import TokenBucket
from sandbox.heroku.contract import Contract
from sandbox.heroku.faults import Fault
from sandbox.heroku.world import ApiError, World

__all__ = [
    "ApiError",
    "Contract",
    "DatabaseBackend",
    "DatabaseStatus",
    "Fault",
    "SimulatedBackend",
    "SimulationParams",
    "TokenBucket",
    "World",
    "Writers",
    "create_app",
]
