"""One live course server shared by the server tests (grading processes start once per test session)."""

from __future__ import annotations

import pytest

from grader.server.app import create_app
from grader.server.course import open_course
from tests.server.helpers import INSTRUCTOR, STUDENTS, Student, live_server, make_course


class Live:
    """The shared server: its URL, course folder, tokens and signed-in clients."""

    def __init__(self, base, folder, tokens, course):
        self.base, self.folder, self.tokens, self.course = base, folder, tokens, course
        self.clients = {who: Student(base, token) for who, token in tokens.items()}

    def __getitem__(self, who: str) -> Student:
        return self.clients[who]


@pytest.fixture(scope="session")
def live(tmp_path_factory):
    folder = tmp_path_factory.mktemp("course")
    tokens = make_course(folder)
    course = open_course(folder)
    app = create_app(course, workers=2, rate=(1000, 0.01))
    with live_server(app) as base:
        yield Live(base, folder, tokens, course)
    course.close()


@pytest.fixture(scope="session")
def students():
    return STUDENTS


@pytest.fixture(scope="session")
def instructor():
    return INSTRUCTOR
