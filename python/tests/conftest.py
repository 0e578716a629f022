"""Paths shared by the Python package's tests (run by `make test` from the repository root)."""
import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED = pathlib.Path(os.environ.get("RECUR_SHARED_DIR", REPO.parent / "shared"))
FIXTURES = REPO / "tests" / "fixtures"
DEMO = REPO / "examples" / "demo"


@pytest.fixture(scope="session")
def cli():
    """The recur CLI built by `make build` (RECUR_CLI overrides), to compare messages with."""
    path = pathlib.Path(os.environ.get("RECUR_CLI", REPO / "build" / "recur"))
    if not path.exists():
        pytest.skip(f"no recur CLI at {path} (run `make build` or set RECUR_CLI)")
    return path
