"""docs/template-context.md is what documents.reference generates now, from the context models."""

from __future__ import annotations

import json
import typing

from pydantic import BaseModel

from documents.context import PolicyContext, RolesContext
from documents.reference import REFERENCE_PAGE, context_reference, reference_json, reference_markdown


def test_the_committed_reference_is_current() -> None:
    assert REFERENCE_PAGE.read_text() == reference_markdown(), (
        "docs/template-context.md is out of date: run `isms templates reference > docs/template-context.md`"
    )


def _paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    found = set()
    for name, info in model.model_fields.items():
        found.add(prefix + name)
        (item,) = typing.get_args(info.annotation) or (None,)
        if isinstance(item, type) and issubclass(item, BaseModel):
            found |= _paths(item, f"{prefix}{name}[].")
    return found


def test_every_field_of_every_context_is_listed_with_type_and_example() -> None:
    references = {reference.context: reference for reference in context_reference()}
    for model in (PolicyContext, RolesContext):
        variables = references[model.__name__].variables
        assert {variable.name for variable in variables} == _paths(model)
        assert all(variable.type and variable.example for variable in variables)
    roles = {variable.name: variable for variable in references["RolesContext"].variables}
    assert roles["roles"].type == "list of RoleDetail"
    assert roles["roles[].holder"].example == "Eleanor Marsh, Chief Executive Officer"
    assert roles["roles[].responsibilities"].type == "list of text"
    assert [item.name for item in references["RolesContext"].subdocuments] == ["raci_table"]
    assert json.loads(reference_json())["contexts"][0]["variables"][0]["name"] == "organisation_name"


def test_no_field_is_shadowed_by_a_dict_method() -> None:
    """A template reads model_dump() dicts: `role.items` would be dict.items, not a field called items."""
    for model in (PolicyContext, RolesContext):
        for path in _paths(model):
            assert not hasattr(dict, path.rsplit(".", 1)[-1]), path
