"""Renderings of a graded result: terminal summary, Gradescope results.json, HTML.

Each module only renders a `grader.rubric.GradeResult`; none of them changes
a score or a verdict.
"""
