"""The mutation check (`make mutate`): targeted breakages the test suite must catch."""
