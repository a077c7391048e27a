"""``python -m whatworks`` runs the ``whatworks`` command."""

from whatworks.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
