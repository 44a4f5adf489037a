"""`python -m hamon`."""

from hamon.cli import main

main(prog_name="hamon")
