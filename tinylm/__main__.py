"""`python -m tinylm` runs the same CLI as the `tinylm` script."""

from tinylm.cli import main

if __name__ == "__main__":
    main()
