"""Read the organisation profile (YAML) and the staff directory (CSV) with exact error places.

Every problem names the file, line and column, and what is wrong, never a traceback:

>>> load_profile(Path("profile.yaml"))
UnreadableInputError: profile.yaml:12:5: roles[1].holder: Input should be a valid string
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from models.profile import OrganisationProfile
from models.staff import REQUIRED_COLUMNS, Person, StaffDirectory

_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0", ""}


@dataclass(frozen=True)
class InputProblem:
    file: str
    line: int | None
    column: int | None
    where: str
    message: str

    def __str__(self) -> str:
        place = self.file
        if self.line is not None:
            place += f":{self.line}"
            if self.column is not None:
                place += f":{self.column}"
        return f"{place}: {self.where + ': ' if self.where else ''}{self.message}"


class UnreadableInputError(Exception):
    """The file cannot be read as a profile or a directory; ``problems`` says where and why."""

    def __init__(self, problems: list[InputProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def _path_label(location: tuple[str | int, ...]) -> str:
    label = ""
    for part in location:
        label += f"[{part}]" if isinstance(part, int) else (f".{part}" if label else str(part))
    return label


def _node_at(root: yaml.Node | None, location: tuple[str | int, ...]) -> yaml.Node | None:
    """The YAML node a pydantic error location points at (the deepest one that exists)."""
    node = root
    for part in location:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            child = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if child is None:
                return node
            node = child
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UnreadableInputError([InputProblem(str(path), None, None, "", "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise UnreadableInputError(
            [InputProblem(str(path), None, None, "", f"not UTF-8 text (byte {exc.start})")]
        ) from None
    except OSError as exc:
        raise UnreadableInputError(
            [InputProblem(str(path), None, None, "", exc.strerror or str(exc))]
        ) from None


def load_profile(path: Path) -> OrganisationProfile:
    """Parse and validate a profile file, or raise :class:`UnreadableInputError`."""
    text = _read_text(path)
    name = str(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except RecursionError:
        raise UnreadableInputError(
            [InputProblem(name, None, None, "", "invalid YAML: nested too deeply to be a profile")]
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        raise UnreadableInputError(
            [
                InputProblem(
                    name,
                    mark.line + 1 if mark else None,
                    mark.column + 1 if mark else None,
                    "",
                    f"invalid YAML: {message}",
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise UnreadableInputError([InputProblem(name, None, None, "", f"invalid YAML: {exc}")]) from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        # a scalar PyYAML cannot construct: 2026-02-30, !!int abc, !!bool abc...
        raise UnreadableInputError([_unconstructable(name, root, exc)]) from None
    if not isinstance(data, dict):
        raise UnreadableInputError(
            [
                InputProblem(
                    name, 1, 1, "", "a profile is a YAML mapping (organisation:, policy:, roles:, ...)"
                )
            ]
        )
    try:
        return OrganisationProfile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = tuple(error["loc"])
            node = _node_at(root, location)
            mark = node.start_mark if node is not None else None
            problems.append(
                InputProblem(
                    name,
                    mark.line + 1 if mark else None,
                    mark.column + 1 if mark else None,
                    _path_label(location),
                    str(error["msg"]).removeprefix("Value error, "),
                )
            )
        raise UnreadableInputError(problems) from None


def _unconstructable(name: str, root: yaml.Node | None, error: Exception) -> InputProblem:
    """The first scalar in ``root`` that PyYAML cannot turn into a value, as a problem with its place."""
    loader = yaml.SafeLoader("")
    pending: list[tuple[yaml.Node, tuple[str | int, ...]]] = [(root, ())] if root is not None else []
    while pending:  # iterative: a deeply nested document must not exhaust the stack here
        node, location = pending.pop()
        if isinstance(node, yaml.MappingNode):
            pending += [(value, (*location, str(key.value))) for key, value in reversed(node.value)]
        elif isinstance(node, yaml.SequenceNode):
            pending += [(item, (*location, index)) for index, item in reversed(list(enumerate(node.value)))]
        elif isinstance(node, yaml.ScalarNode):
            try:
                loader.construct_object(node, deep=True)
            except Exception as exc:
                mark = node.start_mark
                kind = node.tag.rsplit(":", 1)[-1]
                return InputProblem(
                    name,
                    mark.line + 1,
                    mark.column + 1,
                    _path_label(location),
                    f"{node.value!r} is not a valid {kind} ({exc})",
                )
    return InputProblem(name, None, None, "", f"invalid YAML: a value cannot be read ({error})")


def _parse_date(value: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    return date.fromisoformat(value)


def _parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"must be yes/no, true/false or 1/0 (got {value!r})")


def load_staff(path: Path) -> StaffDirectory:
    """Parse the HR export, or raise :class:`UnreadableInputError` listing every bad cell."""
    name = str(path)
    text = _read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise UnreadableInputError([InputProblem(name, 1, None, "", "the file is empty")]) from None
    except csv.Error as exc:
        raise UnreadableInputError([InputProblem(name, 1, None, "", f"invalid CSV: {exc}")]) from None
    columns = {column.strip().lower(): index for index, column in enumerate(header)}
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        raise UnreadableInputError(
            [InputProblem(name, 1, None, "header", f"missing column(s): {', '.join(missing)}")]
        )

    problems: list[InputProblem] = []
    people: list[Person] = []
    seen: dict[str, int] = {}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(InputProblem(name, reader.line_num, None, "", f"invalid CSV: {exc}"))
            break
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            problems.append(
                InputProblem(name, line, None, "", f"{len(row)} fields where the header has {len(header)}")
            )
            continue
        values: dict[str, Any] = {}
        for column in REQUIRED_COLUMNS:
            index = columns[column]
            raw = row[index].strip()
            try:
                if column in ("start_date", "end_date"):
                    values[column] = _parse_date(raw)
                elif column == "in_scope":
                    values[column] = _parse_bool(raw)
                elif column == "manager_email":
                    values[column] = raw or None
                else:
                    values[column] = raw
            except ValueError as exc:
                message = str(exc)
                if column.endswith("_date"):
                    message = f"must be a date as YYYY-MM-DD (got {raw!r})"
                problems.append(InputProblem(name, line, index + 1, column, message))
        if any(p.line == line for p in problems):
            continue
        values["columns"] = {
            column: row[index].strip()
            for column, index in columns.items()
            if column not in REQUIRED_COLUMNS and column and row[index].strip()
        }
        if "@" not in values["email"]:
            problems.append(
                InputProblem(
                    name, line, columns["email"] + 1, "email", f"not an email address: {values['email']!r}"
                )
            )
            continue
        for key in (values["email"].lower(), values["employee_id"].lower()):
            if key and key in seen:
                problems.append(
                    InputProblem(name, line, None, "", f"{key!r} appears again (first on line {seen[key]})")
                )
            seen.setdefault(key, line)
        try:
            people.append(Person.model_validate(values))
        except ValidationError as exc:
            for error in exc.errors():
                column = str(error["loc"][0])
                problems.append(InputProblem(name, line, columns[column] + 1, column, str(error["msg"])))
    if problems:
        raise UnreadableInputError(problems)
    return StaffDirectory(people=people)
