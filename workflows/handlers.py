"""Typed decorators for the workflows' async Update handlers.

``@workflow.update`` without arguments types an ``async def`` handler by what it returns, but its
``name=`` form types it by the coroutine, so ``handle.execute_update(Workflow.decide, ...)``
would be typed as returning a coroutine. The workflows name every handler from
:mod:`core.contract`, so they use :func:`async_update` instead: the same decorator, typed as the
argument-free form is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar, cast

from temporalio import workflow
from temporalio.workflow import UpdateMethodMultiParam

P = ParamSpec("P")
R = TypeVar("R")


def async_update(name: str) -> Callable[[Callable[P, Awaitable[R]]], UpdateMethodMultiParam[P, R]]:
    """``@workflow.update(name=name)`` for an ``async def`` handler, typed by the value it returns."""
    return cast(
        "Callable[[Callable[P, Awaitable[R]]], UpdateMethodMultiParam[P, R]]",
        workflow.update(name=name),
    )
