# In this repository `orderflow.components` is the `components` package under its installed
# name. mypy cannot follow the editable install's import hook, so code written against the
# installed name (provider/, examples/) is type-checked with MYPYPATH=examples/typings.
from components import *  # noqa: F403
