"""The template context reference, generated from the context models and the demo's values.

Every variable a document template can use, its type and an example taken from the demo
organisation (``devstack/demo/profile.yaml`` and ``staff.csv``), rows of a list expanded to
their fields (``roles[].title``). ``isms templates reference`` prints it; the committed
``docs/template-context.md`` is its Markdown, and a test fails when the two differ::

    reference_markdown()        # the page
    reference_json()            # the same, for tools
"""

from __future__ import annotations

import json
import typing
from dataclasses import asdict, dataclass
from pathlib import Path

from pydantic import BaseModel

from core.profile_io import load_profile, load_staff
from documents.context import (
    AppointmentContext,
    DocumentContext,
    PolicyContext,
    RolesContext,
    build_appointment_context,
    build_policy_context,
    build_roles_context,
)
from documents.template_check import type_name

DEMO = Path(__file__).resolve().parents[1] / "devstack" / "demo"
REFERENCE_PAGE = Path(__file__).resolve().parents[1] / "docs" / "template-context.md"

_USED_BY: dict[type[DocumentContext], str] = {
    PolicyContext: "the Information Security Policy (`information-security-policy`) and every other "
    "generated document of the profile, each with its own `document_title` and `version`",
    RolesContext: "the ISMS Roles, Responsibilities and Authorities (`isms-roles-responsibilities`)",
    AppointmentContext: "the ISMS lead's appointment letter (`isms-lead-appointment`), signed by top "
    "management with the version while role acceptance is on",
}
_SUBDOCUMENTS = {
    "raci_table": "the RACI matrix as a Word table (a column per role) with its legend; "
    "write `{{p raci_table }}` alone in a paragraph of its own",
}
_EXAMPLE_LENGTH = 72


@dataclass(frozen=True)
class Variable:
    name: str  # "organisation_name", "roles[].title" (a field of each item of roles)
    type: str  # "text", "list of RoleDetail"
    example: str  # the demo's value, shortened
    description: str = ""  # the model field's description, where it has one


@dataclass(frozen=True)
class ContextReference:
    context: str
    used_by: str
    variables: list[Variable]
    subdocuments: list[Variable]


def _shortened(value: str) -> str:
    text = " ".join(value.split())
    return text if len(text) <= _EXAMPLE_LENGTH else text[: _EXAMPLE_LENGTH - 1] + "…"


def _example(value: object) -> str:
    text = _shortened(str(value)) if value not in (None, "", []) else ""
    return text or "(empty in the demo)"


def _variables(model: type[BaseModel], values: list[BaseModel], prefix: str) -> list[Variable]:
    """``model``'s fields, each with the first non-empty value among ``values`` as its example."""
    found = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        shown = [getattr(value, name) for value in values]
        path = f"{prefix}{name}"
        description = info.description or ""
        if typing.get_origin(annotation) is list:
            (item,) = typing.get_args(annotation)
            if isinstance(item, type) and issubclass(item, BaseModel):
                rows = [row for items in shown for row in items]
                example = f"{len(rows)} in the demo: loop over them" if len(shown) == 1 else "loop over them"
                found.append(Variable(path, type_name(annotation), example, description))
                found += _variables(item, rows, f"{path}[].")
            else:
                first = next((items[0] for items in shown if items), None)
                found.append(Variable(path, type_name(annotation), _example(first), description))
        else:
            first = next((value for value in shown if value not in (None, "")), None)
            found.append(Variable(path, type_name(annotation), _example(first), description))
    return found


def context_reference() -> list[ContextReference]:
    """Each context, its variables with the demo's values, and its subdocuments."""
    profile, staff = load_profile(DEMO / "profile.yaml"), load_staff(DEMO / "staff.csv")
    examples: dict[type[DocumentContext], DocumentContext] = {
        PolicyContext: build_policy_context(profile, staff),
        RolesContext: build_roles_context(profile, staff),
        AppointmentContext: build_appointment_context(profile, staff),
    }
    return [
        ContextReference(
            context=model.__name__,
            used_by=_USED_BY[model],
            variables=_variables(model, [example], ""),
            subdocuments=[
                Variable(name, "subdocument", "", _SUBDOCUMENTS.get(name, "")) for name in model.SUBDOC_NAMES
            ],
        )
        for model, example in examples.items()
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def reference_markdown() -> str:
    """The reference page (``docs/template-context.md``)."""
    lines = [
        "# Template context",
        "",
        "<!-- Generated by `isms templates reference` from documents/context.py and the demo profile; "
        "do not edit: `isms templates reference > docs/template-context.md` -->",
        "",
        "Every value a document template can use, its type and an example from the demo organisation",
        "(`devstack/demo/profile.yaml` with `devstack/demo/staff.csv`). A row of a list is expanded to",
        "its fields: `roles[].title` is the `title` of each item of `roles`.",
        "",
        "How a template writes them (docxtpl's syntax, rendered in a sandbox with autoescaping):",
        "",
        "- `{{ organisation_name }}`: a value, anywhere in a paragraph, a table cell, a header or a footer.",
        "- `{%p for item in statements %}` … `{{ item }}` … `{%p endfor %}`: repeats the paragraphs between "
        "two paragraphs that hold only the tags.",
        "- `{%tr for role in roles %}` … `{{ role.title }}` … `{%tr endfor %}`: repeats the table rows "
        "between two rows that hold only the tags.",
        "- `{%p if objectives_framework %}` … `{%p endif %}`: keeps the paragraphs between only when the "
        "value is not empty.",
        "- `{{p raci_table }}`: a subdocument (a whole table), alone in a paragraph of its own.",
        "",
        "`isms templates export DIR` writes the built-in templates to start from; `isms templates check "
        "TEMPLATE` lists what a template uses and names every value below it does not know.",
    ]
    for reference in context_reference():
        lines += [
            "",
            f"## {reference.context}",
            "",
            f"Used by {reference.used_by}.",
            "",
        ]
        described = any(variable.description for variable in reference.variables)
        header = ["placeholder", "type", "example (demo)", *(["meaning"] if described else [])]
        lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        for variable in reference.variables:
            cells = [f"`{variable.name}`", variable.type, _cell(variable.example)]
            if described:
                cells.append(_cell(variable.description))
            lines.append("| " + " | ".join(cells) + " |")
        if reference.subdocuments:
            lines += ["", "Subdocuments:", ""]
            lines += [f"- `{item.name}`: {item.description}" for item in reference.subdocuments]
    return "\n".join(lines) + "\n"


def reference_json() -> str:
    """The reference as JSON: ``{"contexts": [{"context", "used_by", "variables", "subdocuments"}]}``."""
    return json.dumps({"contexts": [asdict(item) for item in context_reference()]}, indent=2) + "\n"
