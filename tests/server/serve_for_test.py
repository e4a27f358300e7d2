"""`python -m tests.server.serve_for_test DIR PORT`: a course server in its own process for the restart test.

One grading process whose work unit (tests/server/workunits.py) takes a
second per `#SLOW` submission, and 6-second leases, so a `kill -9` lands
mid-grading and the restart re-leases quickly.
"""

import sys

import uvicorn

from grader.server.app import create_app, serving
from grader.server.course import open_course
from grader.server.grading import Grader
from tests.server.workunits import misbehaving

if __name__ == "__main__":  # grading processes import this module again (multiprocessing's main): do nothing there
    course = open_course(sys.argv[1])
    app = create_app(course, grader=Grader(1, work=misbehaving), lease_seconds=6.0)
    serving(app, uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[2]), access_log=False,
                                log_level="warning")).run()
