"""A document's comprehension questions in the profile: up to five, 2-6 choices, one right index.

Each bad question is a problem naming its place in the YAML (``documents[0].questions[1]...``)
and the rule it breaks; a good one loads as written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.profile_io import UnreadableInputError, load_profile

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo" / "profile.yaml"


def _question(text: str = "Who do you report an incident to?", choices: int = 3, correct: int = 1) -> str:
    lines = [f"      - question: {text}", "        choices:"]
    lines += [f"          - Choice {n}" for n in range(choices)]
    lines.append(f"        correct: {correct}")
    return "\n".join(lines) + "\n"


def _profile(tmp_path: Path, questions: str, *, acknowledges: bool = True) -> Path:
    section = (
        "\ndocuments:\n  - id: information-security-policy\n"
        f"    acknowledges: {'true' if acknowledges else 'false'}\n    questions:\n" + questions
    )
    path = tmp_path / "profile.yaml"
    path.write_text(DEMO.read_text() + section)
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(UnreadableInputError) as caught:
        load_profile(path)
    return [str(problem) for problem in caught.value.problems]


def test_questions_load_as_written(tmp_path: Path) -> None:
    profile = load_profile(_profile(tmp_path, _question() + _question("Who signs?", choices=2, correct=0)))
    (policy, *_) = profile.cycle_documents()
    assert [(q.question, q.choices, q.correct) for q in policy.questions] == [
        ("Who do you report an incident to?", ["Choice 0", "Choice 1", "Choice 2"], 1),
        ("Who signs?", ["Choice 0", "Choice 1"], 0),
    ]
    # a document without questions has none
    assert all(not entry.questions for entry in profile.cycle_documents()[1:])


@pytest.mark.parametrize(
    ("questions", "where", "rule"),
    [
        (_question() * 6, "documents[0].questions", "at most 5 items"),
        (_question(choices=1, correct=0), "documents[0].questions[0].choices", "at least 2 items"),
        (_question(choices=7, correct=0), "documents[0].questions[0].choices", "at most 6 items"),
        (
            _question(choices=3, correct=3),
            "documents[0].questions[0]",
            "correct: must be the index of one of the 3",
        ),
        (_question(correct=-1), "documents[0].questions[0]", "counting from 0 (0 to 2); got -1"),
        (_question("''"), "documents[0].questions[0].question", "at least 1 character"),
        (
            "      - question: Twice?\n        choices: [Always, always]\n        correct: 0\n",
            "documents[0].questions[0]",
            "'always' is listed twice",
        ),
        (
            "      - question: No answer?\n        choices: [A, B]\n",
            "documents[0].questions[0].correct",
            "Field required",
        ),
    ],
)
def test_a_bad_question_names_the_field_and_the_rule(
    tmp_path: Path, questions: str, where: str, rule: str
) -> None:
    (problem,) = _problems(_profile(tmp_path, questions))
    assert f"{where}: " in problem
    assert rule in problem
    assert problem.startswith(f"{tmp_path / 'profile.yaml'}:")  # with its line in the file


def test_questions_on_a_document_staff_do_not_acknowledge(tmp_path: Path) -> None:
    (problem,) = _problems(_profile(tmp_path, _question(), acknowledges=False))
    assert "documents[0]: " in problem
    assert "questions: are asked when staff acknowledge the document" in problem
