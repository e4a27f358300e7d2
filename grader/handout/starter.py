"""The starter files: the stripped reference as ``<assignment>.py`` and as a notebook, with the instructions."""

from __future__ import annotations

import ast
import re
import textwrap

import nbformat

from grader.config.assignment import Assignment, load_assignment
from grader.handout.errors import HandoutError
from grader.handout.solutions import FUNCTIONS, MARKER, apply_edits, parse_reference, solution_regions
from grader.handout.sources import first_line, module_source, reference_import, shown
from grader.source.pyparse import bound_names

def starter_config(assignment: Assignment) -> dict:
    """The [starter] table (validated when the assignment loaded) with its defaults and the reference's path."""
    where = assignment.toml_path
    if assignment.reference_file is None:
        raise HandoutError(f"{where}: assignment {assignment.id!r} has no reference module to make a starter "
                           f"from (set `reference`, e.g. reference = \"reference.py\")")
    config = {"instructions": assignment.description, "reference_docstring": True, "given": []}
    config.update(assignment.starter)
    config["path"] = assignment.reference_file
    config["reference"] = shown(assignment.reference_file)
    return config


def check_given(source: str, filename: str, given: list[str], where: str) -> None:
    """Refuse a top-level function or class without a solution region that `given` does not list, and a
    `given` name that is not such a function or class: what the handout hands out whole is a choice."""
    tree = parse_reference(source, filename)
    regions = solution_regions(source, filename)
    whole = {}
    for node in tree.body:
        if isinstance(node, (*FUNCTIONS, ast.ClassDef)):
            inside = any(first <= node.lineno <= last or node.lineno <= first <= node.end_lineno
                         for first, last, _ in regions)
            if not inside:
                whole[node.name] = node.lineno
    unlisted = [name for name in whole if name not in given]
    if unlisted:
        name, also = unlisted[0], f" (also: {', '.join(unlisted[1:])})" if unlisted[1:] else ""
        raise HandoutError(
            f"{filename}:{whole[name]}: `{name}` has no solution region, so the handout would give it to students "
            f"whole; list it in {where} [starter] given if that is meant, or move it out of the reference (a "
            f"helper for the checks belongs in their conftest.py){also}")
    unknown = [name for name in given if name not in whole]
    if unknown:
        raise HandoutError(f"{where}: [starter] given lists {', '.join(unknown)}, which {filename} does not define "
                           f"at top level outside a solution region")


def solution_source(assignment: Assignment | str) -> str:
    """The reference as one self-contained file, solutions kept (what full marks look like)."""
    assignment = as_assignment(assignment)
    return module_source(starter_config(assignment)["path"], strip=False)


def starter_source(assignment: Assignment | str) -> str:
    """The starter ``.py``: the reference without its solutions, under a docstring for the student."""
    assignment = as_assignment(assignment)
    config = starter_config(assignment)
    filename = config["reference"]
    check_given(config["path"].read_text(encoding="utf-8"), filename, config["given"], str(assignment.toml_path))
    body = module_source(config["path"], strip=True)
    tree = parse_reference(body, filename)
    docstring = _as_docstring(_intro(assignment, config, _inventory(tree), markdown=False))
    edits = [(1, 0, docstring.splitlines())]
    if ast.get_docstring(tree, clean=False) is not None:
        edits = [(tree.body[0].lineno, tree.body[0].end_lineno, docstring.splitlines())]
    source = apply_edits(body, edits)
    _verify(source, assignment, filename)
    return source


def _verify(source: str, assignment: Assignment, filename: str) -> None:
    """Refuse a starter that leaks a marker or a reference import, or lacks a required name."""
    tree = parse_reference(source, f"the starter made from {filename}")
    if any(MARKER.match(line) for line in source.splitlines()):
        raise HandoutError(f"{filename}: a solution marker survived in the starter")
    if any(reference_import(node) for node in ast.walk(tree)):
        raise HandoutError(f"{filename}: the starter still imports from `reference`")
    defined = {name for node in tree.body for name in bound_names(node)}
    missing = [group for group in assignment.required_functions if not set(group.split("|")) & defined]
    if missing:
        raise HandoutError(f"{filename}: the starter does not define {', '.join(missing)}, which "
                           f"{assignment.id}'s assignment.toml requires")


def _inventory(tree: ast.Module) -> dict[str, list[str]]:
    """The starter's top-level names by role: functions and classes to complete ("stubs"),
    ``NAME = None`` placeholders ("names"), and functions and classes given whole ("given")."""
    inventory: dict[str, list[str]] = {"stubs": [], "names": [], "given": []}
    for node in tree.body:
        if _is_placeholder(node):
            inventory["names"] += [name for name in bound_names(node) if not name.startswith("_")]
        elif isinstance(node, (*FUNCTIONS, ast.ClassDef)):
            stubbed = any(isinstance(n, ast.Raise) and isinstance(n.exc, ast.Name)
                          and n.exc.id == "NotImplementedError" for n in ast.walk(node))
            inventory["stubs" if stubbed else "given"].append(node.name)
    return inventory


def _is_placeholder(node: ast.stmt) -> bool:
    """Whether `node` is a ``NAME = None`` left where a module-level solution region was."""
    return isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value is None


def _intro(assignment: Assignment, config: dict, inventory: dict[str, list[str]], *, markdown: bool) -> str:
    """The title and instructions, as Markdown for the notebook or plain text for the docstring."""
    code = (lambda name: f"`{name}`") if markdown else (lambda name: name)
    parts = [f"# {assignment.title}" if markdown else assignment.title, config["instructions"].strip()]
    work = inventory["stubs"] + inventory["names"]
    if work:
        kinds = [f"`{kind}`" for kind, key in (("raise NotImplementedError", "stubs"), ("NAME = None", "names"))
                 if inventory[key]]
        guide = ("the docstrings state the contracts and the comments above the placeholders are the "
                 "chapter's hints" if inventory["stubs"] else "the comment above each one says what it is")
        parts.append(f"You write: {', '.join(map(code, work))}. Replace each {' and each '.join(kinds)} "
                     f"with your code; {guide}.")
    given = inventory["given"]
    if given:
        parts.append(f"Given, ready to use: {', '.join(map(code, given))}.")
    if config["reference_docstring"]:
        module = parse_reference(config["path"].read_text(encoding="utf-8"), config["reference"])
        notes = ast.get_docstring(module) or ""
        notes = notes.partition("\n")[2].strip()
        if notes:
            parts += [_markdown_paragraph(p) for p in notes.split("\n\n")] if markdown else [notes]
    extension = "ipynb" if markdown else "py"
    parts.append(f"Check your work with `grader check {assignment.id}.{extension} -a {assignment.id}`: "
                 f"it runs the public checks listed in README.md, in a sandbox.")
    return "\n\n".join(parts)


def _markdown_paragraph(paragraph: str) -> str:
    """A docstring paragraph for Markdown: indented layout (a list of options) is kept verbatim."""
    if any(line.startswith((" ", "\t")) for line in paragraph.splitlines()):
        return f"```text\n{paragraph}\n```"
    return paragraph


def _as_docstring(text: str) -> str:
    """`text` as a module docstring, long paragraphs wrapped at 79 columns."""
    paragraphs = []
    for paragraph in text.split("\n\n"):
        if any(line.startswith((" ", "\t")) for line in paragraph.splitlines()):
            paragraphs.append(paragraph)
        else:
            # A line break inside `code` would read as two words: keep each span on one line.
            joined = re.sub(r"`[^`]*`", lambda m: m.group(0).replace(" ", "\0"), " ".join(paragraph.split()))
            paragraphs.append(textwrap.fill(joined, width=79, break_on_hyphens=False).replace("\0", " "))
    body = "\n\n".join(paragraphs).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return f'"""{body}\n"""'


def as_assignment(assignment: Assignment | str) -> Assignment:
    """An Assignment from its id, or the Assignment itself."""
    return load_assignment(assignment) if isinstance(assignment, str) else assignment


def starter_notebook(assignment: Assignment | str, source: str | None = None) -> nbformat.NotebookNode:
    """The starter as an nbformat 4 notebook: the instructions, then one code cell per definition or region."""
    assignment = as_assignment(assignment)
    config = starter_config(assignment)
    source = starter_source(assignment) if source is None else source
    tree = parse_reference(source, f"the starter of {assignment.id}")
    cells = [nbformat.v4.new_markdown_cell(_intro(assignment, config, _inventory(tree), markdown=True))]
    cells += [nbformat.v4.new_code_cell(code) for code in code_cells(source)]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    nbformat.validate(notebook)
    return notebook


def code_cells(source: str) -> list[str]:
    """`source` without its docstring, split into cells: the imports and constants before the
    first definition, then each definition, and each run of statements between definitions
    (a module-level region's placeholders stay together), with the comments above them."""
    tree = parse_reference(source, "<starter>")
    lines = source.splitlines()
    body = tree.body[1:] if ast.get_docstring(tree, clean=False) is not None else tree.body
    definitions = (*FUNCTIONS, ast.ClassDef)
    groups: list[list[ast.stmt]] = []
    for index, node in enumerate(body):
        previous = groups[-1][-1] if groups else None
        # Simple statements share a cell when they sit on consecutive lines (a region's
        # placeholders), and the imports and constants before the first definition share
        # one; a placeholder after a blank line starts its own cell, as its region was one.
        preamble = not any(isinstance(n, definitions) for n in body[:index]) and not _is_placeholder(node)
        joins = (previous is not None and not isinstance(node, definitions) and not isinstance(previous, definitions)
                 and (preamble or first_line(node, lines) == previous.end_lineno + 1))
        if joins:
            groups[-1].append(node)
        else:
            groups.append([node])
    # Each cell runs from the end of the previous one, so the comments between
    # two definitions go with the one below them.
    start = tree.body[0].end_lineno + 1 if body is not tree.body else 1
    texts = []
    for group in groups:
        texts.append("\n".join(lines[start - 1:group[-1].end_lineno]).strip("\n"))
        start = group[-1].end_lineno + 1
    if texts and "\n".join(lines[start - 1:]).strip():
        texts[-1] += "\n" + "\n".join(lines[start - 1:]).rstrip()
    return [text for text in texts if text.strip()]
