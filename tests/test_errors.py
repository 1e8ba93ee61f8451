"""feedsvc's exceptions form one hierarchy under FeedsvcError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import feedsvc
from feedsvc import errors

# The stop signal of a refresh, defined beside the refresher: not yet under FeedsvcError.
OUTSIDE: set[str] = set()


def _public_exceptions() -> dict[str, type[BaseException]]:
    """Every public exception class a feedsvc module defines, by its dotted name."""
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(feedsvc.__path__, "feedsvc."):
        if module_info.name == "feedsvc.__main__":  # running it runs the command line
            continue
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found[f"{module.__name__}.{name}"] = value
    return found


def test_every_public_exception_is_a_feedsvc_error() -> None:
    """Each exception class feedsvc defines derives from FeedsvcError, so one `except` catches them all."""
    found = _public_exceptions()
    assert "feedsvc.errors.BuildError" in found  # the walk sees the package
    outside = {name for name, cls in found.items() if not issubclass(cls, errors.FeedsvcError)}
    assert outside == OUTSIDE


@pytest.mark.parametrize(
    "error", [errors.SiteConfigError, errors.YamlError, errors.NotText, errors.NotADate, errors.BuildError]
)
def test_errors_about_bad_input_are_value_errors_too(error: type[Exception]) -> None:
    """The errors about bad input stay ValueErrors, so that `except ValueError` callers keep catching them."""
    assert issubclass(error, errors.FeedsvcError)
    assert issubclass(error, ValueError)


def test_the_modules_that_raise_an_error_still_name_it() -> None:
    """Each error can still be imported from the module that raises it, as callers did before."""
    from feedsvc.builddir.manifest import BuildError
    from feedsvc.hexo.site import SiteConfigError
    from feedsvc.model import PageNotReady
    from feedsvc.parse.articles import NotText
    from feedsvc.parse.dates import NotADate
    from feedsvc.safeyaml import YamlError

    assert (BuildError, SiteConfigError, PageNotReady, NotText, NotADate, YamlError) == (
        errors.BuildError,
        errors.SiteConfigError,
        errors.PageNotReady,
        errors.NotText,
        errors.NotADate,
        errors.YamlError,
    )
