"""The estate fixtures (tests/estate/helpers.py) for every module of this folder."""

from tests.estate.helpers import estate_fixture, people_fixture

__all__ = ["estate_fixture", "people_fixture"]
