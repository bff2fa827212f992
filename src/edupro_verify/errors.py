"""The suite's own exceptions: each carries one line a user can act on."""


class ProbeError(Exception):
    """A check could not look (unreachable, refused, missing permission): its result is an error, never a pass."""


class TargetError(Exception):
    """The target as a whole cannot be verified (not running, wrong credentials): the run stops."""
