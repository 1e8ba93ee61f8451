"""A feed's list of articles in chunks: it reads as the sorted list it stands for, and a view never changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

import feedsvc.feeds.shelf
from feedsvc.feeds.shelf import Shelf, ShelfView, sort_key, sort_newest_first
from feedsvc.model import Article

START = datetime(2024, 1, 1, tzinfo=UTC)


def article(number: int, hours: int) -> Article:
    published = START + timedelta(hours=hours)
    return Article(
        source=f"posts/{number}.md",
        title=f"article {number}",
        link=f"https://example.com/{number}/",
        id=f"https://example.com/{number}/",
        published=published,
        updated=published,
        categories=(),
        tags=(),
        author=None,
        summary=None,
        image=None,
        draft=False,
        fingerprint=f"{number:016x}",
    )


# A step: add article `number` at `hours` (hours repeat, so ties are broken by path), or remove the `number`th
# article on the shelf; every few steps a view is taken.
Step = tuple[str, int, int]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 10_000), st.integers(0, 40)),
        st.tuples(st.just("remove"), st.integers(0, 10_000), st.just(0)),
        st.tuples(st.just("view"), st.just(0), st.just(0)),
    ),
    max_size=300,
)


def read_back(shelf: Shelf | ShelfView, expected: list[Article]) -> None:
    """Assert a shelf or view reads as `expected` whole, by slices (a feed's newest, archive pages) and by index."""
    assert list(shelf) == expected
    assert len(shelf) == len(expected)
    for start, stop in ((None, 3), (None, 20), (0, len(expected)), (2, 9), (5, 300), (-7, None), (40, 30)):
        assert shelf[start:stop] == tuple(expected[start:stop])
    for index in (0, 1, len(expected) // 2, -1, -2):
        if -len(expected) <= index < len(expected):
            assert shelf[index] == expected[index]
    with pytest.raises(IndexError):
        shelf[len(expected)]


@given(steps)
def test_a_shelf_reads_as_its_sorted_list_and_its_views_as_it_stood(history: list[Step]) -> None:
    """Inserts and removals in any order, across chunk splits and joins: the shelf is the sorted list, views stay."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(feedsvc.feeds.shelf, "CHUNK", 4)  # a few articles a chunk: every step splits or joins
        shelf = Shelf()
        expected: list[Article] = []
        views: list[tuple[ShelfView, list[Article]]] = []
        on_shelf: set[int] = set()
        for action, number, hours in history:
            if action == "add" and number not in on_shelf:
                added = article(number, hours)
                shelf.insert(added)
                expected = sorted([*expected, added], key=sort_key)
                on_shelf.add(number)
            elif action == "remove" and expected:
                gone = expected.pop(number % len(expected))
                shelf.remove(gone)
                on_shelf.discard(int(gone.source.removeprefix("posts/").removesuffix(".md")))
            elif action == "view":
                views.append((shelf.view(), list(expected)))
        read_back(shelf, expected)
        for view, then in views:
            read_back(view, then)


def test_a_shelf_made_whole_reads_as_its_list() -> None:
    """A list dealt out at a first load (already in order) is cut into chunks that read as the list."""
    articles = sorted((article(n, n % 13) for n in range(3 * feedsvc.feeds.shelf.CHUNK + 5)), key=sort_key)

    read_back(Shelf(articles), articles)
    read_back(Shelf(articles).view(), articles)
    read_back(Shelf(), [])


def test_removing_an_article_not_on_the_shelf_is_refused() -> None:
    """A removal that finds no article by its sort key says so instead of taking out a neighbour."""
    shelf = Shelf([article(1, 2), article(2, 1)])

    with pytest.raises(ValueError, match=r"posts/3\.md"):
        shelf.remove(article(3, 1))
    with pytest.raises(ValueError, match=r"posts/4\.md"):
        shelf.remove(article(4, -5))

    assert [a.source for a in shelf] == ["posts/1.md", "posts/2.md"]


def test_a_view_copies_the_chunks_not_the_articles() -> None:
    """A view of a large list holds a reference per chunk: what makes a snapshot of a million articles cheap."""
    articles = sorted((article(n, n) for n in range(10 * feedsvc.feeds.shelf.CHUNK)), key=sort_key)
    shelf = Shelf(articles)

    view = shelf.view()
    shelf.insert(article(-1, 10**6))

    assert len(view._chunks) == 10  # what the view holds is the point
    assert view[0] == articles[0]
    assert shelf[0].source == "posts/-1.md"


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(-30, 30), st.sampled_from([0, 8, -5])), max_size=200))
def test_sorting_a_whole_list_orders_it_as_its_sort_key(made: list[tuple[int, int, int]]) -> None:
    """Newest first, ties (the same instant, in any offset) by path: as sorting by `sort_key` does."""
    articles = [
        article(number, hours).replace(
            published=(START + timedelta(hours=hours)).astimezone(timezone(timedelta(hours=offset)))
        )
        for number, hours, offset in made
    ]
    ordered = list(articles)

    sort_newest_first(ordered)

    assert ordered == sorted(articles, key=sort_key)
