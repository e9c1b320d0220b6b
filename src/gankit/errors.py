"""The one exception type for user mistakes: the CLI prints its message and exits 2."""


class GankitError(Exception):
    """A user-facing error (bad config, unreadable file, ...) with a one-line message."""

    exit_code = 2  # what the CLI exits with (3: the health monitor stopped a run)
