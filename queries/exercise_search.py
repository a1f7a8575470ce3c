"""Exercise search: filters plus typo-tolerant, ranked matching over the catalog and a user's customs.

With a query, an entry ranks by its best-matching label (its name or an alias), best first by:
1. tier: the label is the query (ignoring case, punctuation and spaces, so "benchpress" is
   "Bench Press (Barbell)"), then the query starts the label or one of its words ("bench pr",
   "squat" in "Front Squat"), then fuzzy matches;
2. score, 0-100: edit similarity, or how much of the query the label's words contain, whichever is
   higher, blended with how much of the label the query covers, so "squat" lists "Hack Squat"
   before "Bulgarian Split Squat";
3. name, case-insensitively, then id.
Fuzzy matches scoring under MIN_SCORE are dropped; the other tiers never are.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import accumulate, count
from operator import add
from typing import Final, NamedTuple

import msgspec
from rapidfuzz import fuzz, process

from core.catalog import BUILT_IN, Exercise

# Measured on the catalog: a typo in one word of a name scores 73 or more for nine exercises in ten
# ("dedlift": Barbell Romanian Deadlift, 83), typos all through a name 75 or more, while unrelated
# words mostly stay under it ("runing": Good Morning, 70; "qwerty": Rowing Machine, 55). A look-alike
# word still passes ("bottle": Battle Ropes, 76): the price of tolerating typos.
MIN_SCORE: Final = 72.0
# Under this many letters a fuzzy match is noise ("ru" is two letters of half the catalog).
MIN_FUZZY_LENGTH: Final = 3

_EXACT, _PREFIX, _FUZZY = 2, 1, 0
_Ranking = tuple[int, float]  # (tier, score)
_UNRANKED: Final = (-1, 0.0)
# Containment ignores the label's extra words, so coverage is blended in to order its ties, and the
# discount keeps a near-exact spelling of a whole label ahead of a word found inside a longer one.
_COVERAGE_WEIGHT: Final = 0.2
_CONTAINMENT_DISCOUNT: Final = 0.95
# Word pairs less alike than this share a letter or two by chance: they count as no match.
_WORD_FLOOR: Final = 60.0
# A query word inside a label word ("lift" in "deadlift") is nearly as good as the word itself;
# shorter words are inside too many ("arm" in "farmer").
_MIN_INFIX_LENGTH: Final = 4
_INFIX_SCORE: Final = 90.0
_SEPARATORS = re.compile(r"[\W_]+")


class SearchFilters(msgspec.Struct, frozen=True):
    """What to look for: free text, and exact muscle (primary or secondary), equipment and category."""

    q: str | None = None
    muscle: str | None = None
    equipment: str | None = None
    category: str | None = None


class _Text(NamedTuple):
    """A query, or a name or alias, normalised into the forms the scorers compare."""

    words: tuple[str, ...]
    compact: str  # "benchpressbarbell": blind to case, punctuation and spacing
    ordered: str  # "barbellbenchpress": its words sorted, so blind to their order too
    tails: tuple[str, ...]  # compact from each word on ("benchpressbarbell", "pressbarbell", ...)


def _text(raw: str) -> _Text:
    words = tuple(dict.fromkeys(_SEPARATORS.sub(" ", raw.casefold()).split()))
    tails = tuple("".join(words[start:]) for start in range(len(words)))
    return _Text(words, "".join(words), "".join(sorted(words)), tails)


# Bounded, so the custom exercises of every user served do not pile up; a user's customs are
# normalised once and then found here on each of their searches.
@lru_cache(maxsize=4096)
def _labels(name: str, aliases: tuple[str, ...]) -> tuple[_Text, ...]:
    """The name, then the aliases that normalise to something new."""
    return tuple(label for label in dict.fromkeys(map(_text, (name, *aliases))) if label.compact)


class _Lines:
    """Strings joined one to a line, so finding those that contain, start or equal a fragment runs
    at C speed; none of them holds a newline."""

    def __init__(self, items: Iterable[str]) -> None:
        items = list(items)
        # Item k begins after the leading newline, the k items before it and their k newlines.
        self._starts = list(map(add, accumulate(map(len, items), initial=1), count()))
        self._joined = "\n" + "\n".join(items) + "\n"

    def containing(self, fragment: str) -> Iterator[int]:
        return self._find(fragment)

    def starting(self, fragment: str) -> Iterator[int]:
        return self._find("\n" + fragment, skip=1)

    def equal(self, fragment: str) -> Iterator[int]:
        return self._find("\n" + fragment + "\n", skip=1)

    def _find(self, needle: str, skip: int = 0) -> Iterator[int]:
        at = self._joined.find(needle)
        while at != -1:
            item = bisect_right(self._starts, at + skip) - 1
            yield item
            at = self._joined.find(needle, self._starts[item + 1] - 1)


class _Index:
    """Some entries' labels, laid out for rapidfuzz's C loops and for substring search."""

    def __init__(self, entries: Iterable[Exercise]) -> None:
        self.entries = tuple(entries)
        self.owners = [i for i, entry in enumerate(self.entries) for _ in _labels(entry.name, entry.aliases)]
        self.labels = [label for entry in self.entries for label in _labels(entry.name, entry.aliases)]
        self.compacts = [label.compact for label in self.labels]
        self.ordered = [label.ordered for label in self.labels]
        self.postings: dict[str, list[int]] = {}
        for i, label in enumerate(self.labels):
            for word in label.words:
                self.postings.setdefault(word, []).append(i)
        self.vocabulary = list(self.postings)
        self.words = _Lines(self.vocabulary)
        self.whole = _Lines(self.compacts)
        self.tails = [i for i, label in enumerate(self.labels) for _ in label.tails]
        self.from_words = _Lines(tail for label in self.labels for tail in label.tails)


# Built-in entries live as long as the process, so the index over them is built once; an entry is
# taken from it only if it is that very object, so an equal copy passed in is searched as a custom.
_BUILT_IN_INDEX: Final = _Index(BUILT_IN)
_BUILT_IN_IDS: Final = frozenset(id(entry) for entry in _BUILT_IN_INDEX.entries)


class _Query:
    """One query: its text and its word similarities, shared by every label it is scored against."""

    def __init__(self, text: _Text) -> None:
        self.text = text
        self.fuzzy = len(text.compact) >= MIN_FUZZY_LENGTH
        self._weights = [len(word) / len(text.compact) for word in text.words]
        self._word_scores: list[dict[str, float]] = [{word: 100.0} for word in text.words]

    def matches(self, index: _Index, wanted: Callable[[Exercise], bool] | None) -> dict[int, _Ranking]:
        """Each wanted entry's best (tier, score) over its labels of the first two tiers or at MIN_SCORE."""
        text = self.text
        exact = set(index.whole.equal(text.compact))
        prefixed = {index.tails[i] for i in index.from_words.starting(text.compact)}
        found = exact | prefixed
        self._score_words(index)
        contained = self._containment(index)
        if self.fuzzy:
            # A score is at most its larger term, so a label under MIN_SCORE on both is left out.
            for query, choices in ((text.compact, index.compacts), (text.ordered, index.ordered)):
                matches = process.extract(
                    query, choices, scorer=fuzz.ratio, processor=None, limit=None, score_cutoff=MIN_SCORE
                )
                found.update(i for _, _, i in matches)
            found.update(i for i, share in contained.items() if _CONTAINMENT_DISCOUNT * share >= MIN_SCORE)
        if wanted is not None:
            found = {i for i in found if wanted(index.entries[index.owners[i]])}
        # Edit similarity, blind to spacing ("lat pull down") and word order ("deadlift romanian").
        labels = list(found)
        coverage = [0.0] * len(labels)
        for query, choices in ((text.compact, index.compacts), (text.ordered, index.ordered)):
            scores = process.extract(
                query, [choices[i] for i in labels], scorer=fuzz.ratio, processor=None, limit=None
            )
            for _, score, j in scores:
                coverage[j] = max(coverage[j], score)
        best: dict[int, _Ranking] = {}
        for i, covered in zip(labels, coverage, strict=True):
            tier = _EXACT if i in exact else _PREFIX if i in prefixed else _FUZZY
            top = max(covered, _CONTAINMENT_DISCOUNT * contained.get(i, 0.0))
            ranking = (tier, (1 - _COVERAGE_WEIGHT) * top + _COVERAGE_WEIGHT * covered)
            if (tier != _FUZZY or ranking[1] >= MIN_SCORE) and ranking > best.get(index.owners[i], _UNRANKED):
                best[index.owners[i]] = ranking
        return best

    def _score_words(self, index: _Index) -> None:
        vocabulary, last = index.vocabulary, self.text.words[-1]
        for word, scores in zip(self.text.words, self._word_scores, strict=True):
            matches = process.extract(
                word, vocabulary, scorer=fuzz.ratio, processor=None, limit=None, score_cutoff=_WORD_FLOOR
            )
            scores.update((other, score) for other, score, _ in matches if other not in scores)
            if len(word) >= _MIN_INFIX_LENGTH:
                for i in index.words.containing(word):
                    scores[vocabulary[i]] = max(scores.get(vocabulary[i], 0.0), _INFIX_SCORE)
            # The last word may still be being typed, so starting a word counts as matching it.
            if word == last:
                scores.update((vocabulary[i], 100.0) for i in index.words.starting(word))

    def _containment(self, index: _Index) -> dict[int, float]:
        """For each label sharing a near word with the query: each query word's best match among
        the label's words, as a mean weighted by the query words' lengths, 0-100."""
        contained: dict[int, float] = {}
        for weight, scores in zip(self._weights, self._word_scores, strict=True):
            best: dict[int, float] = {}
            for other, score in scores.items():
                for i in index.postings.get(other, ()):
                    if score > best.get(i, 0.0):
                        best[i] = score
            for i, score in best.items():
                contained[i] = contained.get(i, 0.0) + weight * score
        return contained


def _matches(entry: Exercise, filters: SearchFilters) -> bool:
    return (
        (filters.muscle is None or filters.muscle in entry.primary_muscles + entry.secondary_muscles)
        and (filters.equipment is None or entry.equipment == filters.equipment)
        and (filters.category is None or entry.category == filters.category)
    )


def _ranked(entries: Sequence[Exercise], filters: SearchFilters, query: _Query) -> list[Exercise]:
    """The entries passing the filters with a label in the first two tiers or at MIN_SCORE, best first."""
    passed = _BUILT_IN_IDS.intersection(map(id, entries))
    # Keyed by id, so an entry passed twice is listed once.
    customs = {id(e): e for e in entries if id(e) not in _BUILT_IN_IDS and _matches(e, filters)}
    unfiltered = filters == SearchFilters(q=filters.q)
    searches: list[tuple[_Index, Callable[[Exercise], bool] | None]] = [
        (_Index(customs.values()), None),
        (
            _BUILT_IN_INDEX,
            None
            if unfiltered and passed == _BUILT_IN_IDS
            else lambda entry: id(entry) in passed and _matches(entry, filters),
        ),
    ]
    rows = []
    for index, wanted in searches:
        for owner, (tier, score) in query.matches(index, wanted).items():
            entry = index.entries[owner]
            rows.append((-tier, -score, entry.name.casefold(), entry.id, entry))
    rows.sort(key=lambda row: row[:4])
    return [row[4] for row in rows]


def search(
    entries: Sequence[Exercise], filters: SearchFilters, *, offset: int, limit: int
) -> tuple[list[Exercise], bool]:
    """One page of the entries that pass the filters, best match first; and whether more follow."""
    if offset < 0 or limit < 1:
        raise ValueError(f"offset must be >= 0 and limit >= 1, got {offset} and {limit}")
    text = _text(filters.q or "")
    if text.compact:
        found = _ranked(entries, filters, _Query(text))
    else:
        kept = (entry for entry in entries if _matches(entry, filters))
        found = sorted(kept, key=lambda entry: (entry.name.casefold(), entry.id))
    return found[offset : offset + limit], len(found) > offset + limit
