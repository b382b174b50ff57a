"""The ORGQUAKE_FAILPOINTS grammar, as the C++ registry parses it.

    spec   := name '=' term ('->' term)*
    term   := [P '%'] [N '*'] action ['(' arg ')']
    action := off | return | sleep | yield | pause | crash

Specs are joined by ';'. Errors are ValueError with one line naming what is wrong,
worded as migrator/failpoints/spec_parser.cpp words them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ACTIONS = ("off", "return", "sleep", "yield", "pause", "crash")

# A sleep longer than a day is a typo (seconds for milliseconds, a stray digit).
MAX_SLEEP_MS = 24 * 60 * 60 * 1000
_UINT64_LIMIT = 2**64

# What std::from_chars accepts for a double (no sign '+', no spaces, no hex, no '_').
_DECIMAL = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\Z")
_WHOLE = re.compile(r"\d+\Z")
_BLANKS = " \t\r\n"


@dataclass(frozen=True)
class Term:
    """One `[p%][n*]action[(arg)]` of a chain."""

    action: str = "off"
    percent: float = 100.0
    # How many times the term may trigger; None means without limit.
    max_triggers: int | None = None
    # The error text of return; empty for the other actions.
    text: str = ""
    # The duration of sleep; 0 for the other actions.
    duration_ms: int = 0

    @property
    def argument(self) -> str:
        """The argument as the grammar writes it: return's text, sleep's milliseconds."""
        if self.action == "return":
            return self.text
        if self.action == "sleep":
            return str(self.duration_ms)
        return ""

    def __str__(self) -> str:
        text = ""
        if self.percent < 100.0:
            text += f"{_number(self.percent)}%"
        if self.max_triggers is not None:
            text += f"{self.max_triggers}*"
        text += self.action
        # `return` and `return()` mean the same; the shorter form is canonical.
        if self.action == "sleep" or self.text:
            text += f"({self.argument})"
        return text


@dataclass(frozen=True)
class Spec:
    """A failpoint's chain: the first term that triggers wins."""

    terms: tuple[Term, ...]

    def __str__(self) -> str:
        return "->".join(str(term) for term in self.terms)


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _split_outside_parentheses(text: str, separator: str) -> list[str]:
    # An argument may hold any text with balanced parentheses, separators included.
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(text):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")" and depth > 0:
            depth -= 1
        if depth == 0 and text.startswith(separator, i):
            parts.append(text[start:i])
            start = i + len(separator)
            i = start
            continue
        i += 1
    parts.append(text[start:])
    return parts


def _parentheses_balance(text: str) -> bool:
    depth = 0
    for c in text:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


class _TermParser:
    def __init__(self, failpoint_name: str, term: str):
        self.failpoint_name = failpoint_name
        self.term = term

    def fail(self, what: str):
        raise ValueError(f'failpoint {self.failpoint_name}: term "{self.term}": {what}')

    def parse(self) -> Term:
        term = self.term
        head = term
        argument = None
        open_at = term.find("(")
        if open_at >= 0:
            if not term.endswith(")"):
                if term.find(")", open_at) < 0:
                    self.fail("missing ')' after the argument")
                self.fail("text after the argument's ')'")
            argument = term[open_at + 1 : -1]
            if not _parentheses_balance(argument):
                self.fail("unbalanced parentheses in the argument")
            head = term[:open_at]
        elif ")" in term:
            self.fail("')' without '('")

        percent = 100.0
        max_triggers = None
        percent_at = head.find("%")
        if percent_at >= 0:
            percent = self.parse_percent(head[:percent_at].strip(_BLANKS))
            head = head[percent_at + 1 :]
        star_at = head.find("*")
        if star_at >= 0:
            max_triggers = self.parse_count(head[:star_at].strip(_BLANKS))
            head = head[star_at + 1 :]
        action = self.parse_action(head.strip(_BLANKS))
        text, duration_ms = self.parse_argument(action, argument)
        return Term(action, percent, max_triggers, text, duration_ms)

    def parse_percent(self, text: str) -> float:
        value = float(text) if _DECIMAL.match(text) else None
        if value is None or value != value or value in (float("inf"), float("-inf")):
            self.fail(f'probability "{text}" is not a number (the form is p%n*action, as in 50%crash)')
        if not 0.0 <= value <= 100.0:
            self.fail(f"probability {text}% is outside 0% to 100%")
        return value

    def parse_count(self, text: str) -> int:
        if not _WHOLE.match(text) or int(text) >= _UINT64_LIMIT:
            self.fail(f'count "{text}" is not a whole number (the form is n*action, as in 2*crash)')
        return int(text)

    def parse_action(self, keyword: str) -> str:
        if keyword in ACTIONS:
            return keyword
        if not keyword:
            self.fail("no action (expected off, return, sleep, yield, pause or crash)")
        self.fail(
            f'unknown action "{keyword}" (expected off, return(text), sleep(ms), yield, pause or crash)'
        )

    def parse_argument(self, action: str, argument: str | None) -> tuple[str, int]:
        if action == "return":
            return (argument or "", 0)  # the error message, kept exactly as written
        if action == "sleep":
            if argument is None:
                self.fail("sleep needs a duration in milliseconds, as in sleep(100)")
            text = argument.strip(_BLANKS)
            if not _WHOLE.match(text) or int(text) >= _UINT64_LIMIT:
                self.fail(f'sleep duration "{text}" is not a whole number of milliseconds')
            if int(text) > MAX_SLEEP_MS:
                self.fail(f"sleep duration {int(text)} ms is longer than a day")
            return ("", int(text))
        if argument is not None:
            self.fail(f"{action} takes no argument")
        return ("", 0)


def parse_spec(failpoint_name: str, text: str) -> Spec:
    """Parses `term[->term...]` for the failpoint `failpoint_name`."""
    text = text.strip(_BLANKS)
    if not text:
        raise ValueError(
            f"failpoint {failpoint_name}: no action given "
            "(write off to do nothing, or clear the failpoint)"
        )
    terms = []
    for term in _split_outside_parentheses(text, "->"):
        term = term.strip(_BLANKS)
        if not term:
            raise ValueError(
                f"failpoint {failpoint_name}: \"{text}\" has an empty term "
                "(a '->' with nothing on one side)"
            )
        terms.append(_TermParser(failpoint_name, term).parse())
    return Spec(tuple(terms))


def parse_configuration(text: str, check_name=None) -> list[tuple[str, Spec]]:
    """Parses `name=spec[;name=spec...]`; `check_name(name)` may raise for an unknown name."""
    settings: list[tuple[str, Spec]] = []
    for item in _split_outside_parentheses(text, ";"):
        item = item.strip(_BLANKS)
        if not item:
            continue
        equals = item.find("=")
        if equals < 0:
            raise ValueError(
                f"\"{item}\": missing '=' (the form is name=action, as in "
                "migrate.after_org_insert=crash)"
            )
        name = item[:equals].strip(_BLANKS)
        if not name:
            raise ValueError(f"\"{item}\": missing failpoint name before '='")
        if check_name is not None:
            check_name(name)
        if any(earlier == name for earlier, _ in settings):
            raise ValueError(
                f"failpoint {name}: configured twice; give each failpoint one chain joined with '->'"
            )
        settings.append((name, parse_spec(name, item[equals + 1 :])))
    return settings
