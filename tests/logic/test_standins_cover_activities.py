"""The stand-ins answer every activity the workflows call, under the name the real worker uses.

If a workflow starts calling a new activity, or one is renamed, this fails first and names it,
instead of a logic test timing out on an activity no worker serves.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.logic.standins import ACTIVITY_NAMES, StandIns

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
CALLS = {"execute_activity", "execute_activity_method", "start_activity", "start_activity_method"}


def activities_called() -> dict[str, str]:
    """Activity name -> the workflow file calling it (``SomeActivities.name`` or ``name``)."""
    found: dict[str, str] = {}
    for path in sorted(WORKFLOWS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            function = node.func
            if not (isinstance(function, ast.Attribute) and function.attr in CALLS):
                continue
            target = node.args[0]
            if isinstance(target, ast.Attribute):
                found[target.attr] = path.name
            elif isinstance(target, ast.Name):
                found[target.id] = path.name
            elif isinstance(target, ast.Constant) and isinstance(target.value, str):
                found[target.value] = path.name
    return found


def test_every_activity_a_workflow_calls_has_a_stand_in() -> None:
    called = activities_called()
    assert "render_documents" in called, "the scan found the workflows' activity calls"
    missing = {name: where for name, where in called.items() if name not in ACTIVITY_NAMES}
    # the health check belongs to StackCheckWorkflow, which the logic tier does not run
    missing.pop("check_dependencies", None)
    assert missing == {}, f"activities with no stand-in: {missing}"


def test_each_stand_in_is_registered_under_its_real_name() -> None:
    standins = StandIns(client=None)  # type: ignore[arg-type]
    names = [getattr(fn, "__temporal_activity_definition").name for fn in standins.activities()]
    assert names == list(ACTIVITY_NAMES)
    assert set(names) <= set(activities_called())
