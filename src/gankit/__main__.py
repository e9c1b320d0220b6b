"""`python -m gankit` (what torchrun launches) runs the CLI."""

from gankit.cli import entry

if __name__ == "__main__":
    entry()
