"""Inputs and results of the stack check: proof that a worker runs and reaches S3 and SMTP."""

from __future__ import annotations

from pydantic import BaseModel


class CheckDependenciesInput(BaseModel):
    """Nothing to pass yet; a model so fields can be added without breaking histories."""


class DependencyCheck(BaseModel):
    name: str
    ok: bool
    detail: str


class CheckDependenciesResult(BaseModel):
    worker_identity: str
    checks: list[DependencyCheck]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


class StackCheckInput(BaseModel):
    """Nothing to pass yet; see :class:`CheckDependenciesInput`."""


class StackCheckResult(BaseModel):
    dependencies: CheckDependenciesResult
