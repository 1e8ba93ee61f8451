"""Run the command line as `python -m feedsvc`."""

from feedsvc.cli import main

# Guarded: worker processes that parse files import the main module again.
if __name__ == "__main__":
    main()
