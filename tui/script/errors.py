"""Script errors: each names the file, the line and the field, like a compiler's."""

from __future__ import annotations

from dataclasses import dataclass

MAX_SHOWN = 20  # a file with hundreds of problems prints the first ones and a count


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a script, at ``line`` (1-based) of ``field`` (``steps[2].wait``)."""

    line: int
    field: str
    message: str

    def render(self, file: str) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{file}:{self.line}: {where}{self.message}"


class ScriptError(Exception):
    """A script that cannot run: every problem found, sorted by line.

    ``str()`` is the first problem as one line (``ci.yaml:14: steps[2].wait.timeout: ...``);
    :meth:`lines` gives them all.
    """

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        unique: dict[tuple[int, str], Problem] = {}
        for problem in problems:  # the first problem per field: the others follow from it
            unique.setdefault((problem.line, problem.field), problem)
        self.problems = sorted(unique.values(), key=lambda p: p.line) or [
            Problem(1, "", "invalid")]
        super().__init__(self.problems[0].render(file))

    def lines(self) -> list[str]:
        shown = [p.render(self.file) for p in self.problems[:MAX_SHOWN]]
        if len(self.problems) > MAX_SHOWN:
            shown.append(f"{self.file}: {len(self.problems) - MAX_SHOWN} more problems")
        return shown

    def masked(self, mask) -> ScriptError:
        """The same error with ``mask`` (a str -> str function) applied to every message."""
        return ScriptError(self.file, [Problem(p.line, mask(p.field), mask(p.message))
                                       for p in self.problems])


class ScriptReadError(Exception):
    """The script file could not be read at all (missing, a directory, unreadable)."""
