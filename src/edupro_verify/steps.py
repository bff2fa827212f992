"""How a Then step ends when one of its expectations did not hold.

The suite's `then` is pytest-bdd's, with one rule added: once a Then step has recorded an unmet expectation (it is
collected, and the scenario goes on to its next Then step, see evidence.Findings), whatever that step's own code
then trips over (a missing field, an answer that is not JSON, a value it assumed present) is a consequence of the
finding, not a second verdict: the step ends there. A step that failed in no expectation of its own still stops the
scenario with its error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import pytest_bdd

from .evidence import Evidence

F = TypeVar("F", bound=Callable[..., Any])


def then(name: Any, *args: Any, **kwargs: Any) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        @functools.wraps(func)
        def step(*call_args: Any, **call_kwargs: Any) -> Any:
            evidence = call_kwargs.get("evidence")
            findings = evidence.findings if isinstance(evidence, Evidence) else None
            before = len(findings.sentences) if findings else 0
            try:
                return func(*call_args, **call_kwargs)
            except Exception:
                if findings is not None and len(findings.sentences) > before:
                    return None  # the step's own finding explains what its code met next
                raise
        # stacklevel 2: pytest-bdd puts the step into the namespace of the module that applied this decorator
        return pytest_bdd.then(name, *args, stacklevel=2, **kwargs)(step)  # type: ignore[no-any-return]
    return decorate
