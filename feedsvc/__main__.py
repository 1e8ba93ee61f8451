"""Run the command line as `python -m feedsvc`."""

from feedsvc.cli import main

main()
