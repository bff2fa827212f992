"""The suite's own exceptions: each carries one line a user can act on."""

import requests


class ProbeError(Exception):
    """A check could not look (unreachable, refused, missing permission): its result is an error, never a pass."""


class TargetError(Exception):
    """The target as a whole cannot be verified (not running, wrong credentials): the run stops."""


def request_failure(error: Exception) -> str:
    """Why an HTTP request got no answer, in words (never the client library's class name)."""
    if isinstance(error, requests.exceptions.SSLError):
        return "the TLS handshake failed"
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return "the connection was not accepted in time"
    if isinstance(error, requests.exceptions.ReadTimeout):
        return "it accepted the connection but did not answer in time"
    if isinstance(error, requests.exceptions.ConnectionError):
        text = str(error)
        if "Connection refused" in text:
            return "the connection was refused: nothing listens there"
        if "Remote end closed" in text or "Connection aborted" in text:
            return "the connection was closed without an answer"
        return "no connection could be made"
    if isinstance(error, requests.exceptions.TooManyRedirects):
        return "it redirects in a loop"
    return "the request could not be sent"
