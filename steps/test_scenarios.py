"""Every scenario of every feature file under features/."""

from pytest_bdd import scenarios

scenarios(".")
