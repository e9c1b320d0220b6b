"""`python -m gankit` (what torchrun launches) runs the CLI."""

from gankit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
