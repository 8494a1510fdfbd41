"""The one exception the CLI turns into a one-line message and exit code 1."""


class UserError(Exception):
    """A mistake in the user's input (flags, config, data, environment).

    ``bench`` prints ``error: <message>`` and exits with status 1, without a
    traceback.
    """
