"""Root of the test suite. Having a conftest here puts tests/ on sys.path (pytest's prepend
import mode), so tests in every subfolder import the shared `runner_helpers` by that name.
(`tests.runner_helpers` would not do: a dependency installs a top-level `tests` package.)"""

from environment import header


def pytest_report_header() -> str:
    return header()
