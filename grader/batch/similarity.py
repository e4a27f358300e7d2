"""Identical and near-identical submissions of a class, for the instructor to look at (never a verdict).

Identical: the same SHA-256 of what was graded. Near-identical: the token
sequences of two submissions' normalised code are at least `NEAR` alike by
RapidFuzz's normalised Indel similarity (1 - insertions and deletions / total
length, the measure behind difflib's ratio, computed by a maintained C++
library rather than by hand). Normalising (Python's own tokenizer) sets
aside what says nothing about who wrote the code: comments, docstrings,
blank lines, and the names of variables and functions (every identifier
that is not a keyword or a builtin reads as one token), and numbers and
strings keep only their kind. Functions given out in the handout and left
as they were are removed first, so a shared starter does not make a class
look alike; a submission with too little code of its own is not compared.
"""

from __future__ import annotations

import builtins
import io
import keyword
import tokenize
from dataclasses import dataclass
from typing import Iterable, NamedTuple

NEAR = 0.9           # the share of matching tokens that makes two submissions near-identical
MIN_TOKENS = 80      # less code of their own than this (an untouched starter) is not compared
MAX_PAIRS = 50       # the index lists at most this many pairs, most alike first
# More tokens than this (a full lab solution has about 2,000) and a submission is not compared: tokenizing
# stops there, and no pair costs more than MAX_TOKENS**2 / 64 steps (an 8 MB file of definitions held a batch
# in the comparison for minutes after every student was graded).
MAX_TOKENS = 50_000

_KEEP_NAMES = frozenset(keyword.kwlist) | frozenset(dir(builtins))
_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}


@dataclass(frozen=True)
class Pair:
    """Two students whose submissions are identical (same SHA-256) or alike by `similarity` (0..1)."""

    first: str
    second: str
    similarity: float
    identical: bool


def normalised_tokens(source: str, given: Iterable[str] = ()) -> list[str]:
    """`source` as normalised tokens, without the top-level functions whose normalised code is in `given`
    (the handout's own functions, as normalised by `function_tokens`). [] when it does not tokenize or has
    more than MAX_TOKENS tokens."""
    given = set(given)
    try:
        tokens = _tokens(source, limit=MAX_TOKENS)
    except (tokenize.TokenError, IndentationError, SyntaxError, ValueError, _TooLong):
        return []
    if not given:
        return tokens
    kept: list[str] = []
    for function in _split_functions(tokens):
        if " ".join(function) not in given:
            kept.extend(function)
    return kept


def function_tokens(source: str) -> set[str]:
    """The normalised code of each top-level function of `source` (a handout's starter), as joined tokens."""
    try:
        return {" ".join(part) for part in _split_functions(_tokens(source)) if part[:1] == ["def"]}
    except (tokenize.TokenError, IndentationError, SyntaxError, ValueError):
        return set()


def similar_pairs(sources: dict[str, str], hashes: dict[str, str], *, given: Iterable[str] = (),
                  near: float = NEAR, limit: int = MAX_PAIRS) -> tuple[list[Pair], int]:
    """The identical and near-identical pairs among `sources` (student -> code), most alike first, and how
    many there were in all (the list stops at `limit`). `hashes` (student -> SHA-256) decide identical."""
    given = set(given)
    return pairs_of_tokens({s: normalised_tokens(code, given) for s, code in sources.items()}, hashes,
                           near=near, limit=limit)


def pairs_of_tokens(tokens: dict[str, list[str]], hashes: dict[str, str], *, near: float = NEAR,
                    limit: int = MAX_PAIRS) -> tuple[list[Pair], int]:
    """`similar_pairs` of code already read: `tokens` maps students to their `normalised_tokens`."""
    from rapidfuzz.distance import Indel
    from rapidfuzz.process import cdist

    pairs: dict[tuple[str, str], Pair] = {}
    by_hash: dict[str, list[str]] = {}
    for student, sha in hashes.items():
        if sha:
            by_hash.setdefault(sha, []).append(student)
    for group in by_hash.values():
        group.sort()
        for i, first in enumerate(group):
            for second in group[i + 1:]:
                pairs[(first, second)] = Pair(first, second, 1.0, True)

    encoded = _encode(tokens)
    students = sorted(s for s, text in encoded.items() if len(text) >= MIN_TOKENS)
    if len(students) > 1:
        texts = [encoded[s] for s in students]
        scores = cdist(texts, texts, scorer=Indel.normalized_similarity, score_cutoff=near, workers=1)
        for i, first in enumerate(students):
            for j in range(i + 1, len(students)):
                score = float(scores[i, j])
                if score >= near and (first, students[j]) not in pairs:
                    pairs[(first, students[j])] = Pair(first, students[j], round(score, 3), False)
    ranked = sorted(pairs.values(), key=lambda p: (not p.identical, -p.similarity, p.first, p.second))
    return ranked[:limit], len(ranked)


class _TooLong(Exception):
    """The source has more tokens than the limit it was read with."""


def _tokens(source: str, limit: int | None = None) -> list[str]:
    out: list[str] = []
    statement_start = True
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if limit is not None and len(out) > limit:
            raise _TooLong
        kind = token.type
        if kind in _SKIP:
            continue
        if kind == tokenize.STRING and statement_start:
            statement_start = False
            out.append("DOC")  # a docstring or a bare string: its words are not code
            continue
        if kind in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            statement_start = True
            out.append({tokenize.NEWLINE: "\n", tokenize.INDENT: ">", tokenize.DEDENT: "<"}[kind])
            continue
        statement_start = False
        if kind == tokenize.NAME:
            out.append(token.string if token.string in _KEEP_NAMES else "NAME")
        elif kind == tokenize.NUMBER:
            out.append("NUM")
        elif kind in (tokenize.STRING, getattr(tokenize, "FSTRING_START", -1)):
            out.append("STR")
        else:
            out.append(token.string)
    # Docstrings are dropped with the statement's own newline.
    cleaned: list[str] = []
    for token in out:
        if token == "\n" and cleaned[-1:] == ["DOC"]:
            cleaned.pop()
            continue
        cleaned.append(token)
    return [t for t in cleaned if t != "DOC"]


def _split_functions(tokens: list[str]) -> list[list[str]]:
    """`tokens` cut into top-level statements (a `def` with its whole body is one)."""
    parts: list[list[str]] = []
    current: list[str] = []
    depth = 0
    for index, token in enumerate(tokens):
        current.append(token)
        if token == ">":
            depth += 1
        elif token == "<":
            depth -= 1
        # A top-level statement ends at its newline, unless an indented body follows (a def's).
        ends = depth == 0 and token in ("\n", "<") and tokens[index + 1:index + 2] != [">"]
        if ends:
            parts.append(current)
            current = []
    if current:
        parts.append(current)
    return parts


def _encode(token_lists: dict[str, list[str]]) -> dict[str, str]:
    """Each token list as a string of one character per token (one vocabulary for all), for RapidFuzz."""
    vocabulary: dict[str, str] = {}
    encoded = {}
    for student, tokens in token_lists.items():
        encoded[student] = "".join(vocabulary.setdefault(t, chr(0xE000 + len(vocabulary))) for t in tokens)
    return encoded


class _Read(NamedTuple):
    """One student's submission as the comparison needs it."""

    path: str
    sha256: str
    tokens: list[str]


class ClassCode:
    """A class's submissions as normalised tokens, each read once: a batch reads each student's file as their
    result arrives (`read`), while others are still being graded, so that the comparison after the last
    student (`pairs`) has only the comparing left to do."""

    def __init__(self, assignment: object) -> None:
        self._assignment = assignment
        self._given: set[str] | None = None
        self._read: dict[str, _Read] = {}

    def read(self, student: str, path: str) -> None:
        """Read and normalise `student`'s submission at `path` now (an unreadable one is left out)."""
        from grader.source.submission import SubmissionError, load_submission
        try:
            submission = load_submission(path)
        except SubmissionError:
            self._read.pop(student, None)
            return
        self._read[student] = _Read(str(path), submission.sha256, normalised_tokens(submission.source, self.given()))

    def given(self) -> set[str]:
        """The normalised code of the assignment's handout functions, which are set aside."""
        if self._given is None:
            from grader.handout import starter_source
            try:
                self._given = function_tokens(starter_source(self._assignment))
            except Exception:  # noqa: BLE001 - an assignment without a handout still gets its pairs
                self._given = set()
        return self._given

    def pairs(self, entries: dict[str, str]) -> tuple[list[Pair], int]:
        """`similar_pairs` of the students of `entries` (student id -> submission path); a student read
        before from another path (or not at all) is read now."""
        for student, path in entries.items():
            known = self._read.get(student)
            if known is None or known.path != str(path):
                self.read(student, path)
        chosen = {s: self._read[s] for s in entries if s in self._read}
        return pairs_of_tokens({s: r.tokens for s, r in chosen.items()}, {s: r.sha256 for s, r in chosen.items()})


def groups_of(pairs: list[Pair]) -> list[list[str]]:
    """The students linked by `pairs`, as groups (connected components), largest first."""
    parent: dict[str, str] = {}

    def root(student: str) -> str:
        while parent.setdefault(student, student) != student:
            student = parent[student]
        return student

    for pair in pairs:
        parent[root(pair.first)] = root(pair.second)
    groups: dict[str, list[str]] = {}
    for student in parent:
        groups.setdefault(root(student), []).append(student)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g))
