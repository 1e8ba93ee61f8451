"""CSS selectors, as the config file writes them, turned into the XPath that lxml runs over a body.

The only module that imports cssselect. `css_to_xpath` is checked when the config is read,
so a selector that is not CSS stops the service before it starts, naming the key.
"""

from __future__ import annotations

import functools

from cssselect import HTMLTranslator, SelectorError
from cssselect.xpath import ExpressionError

from feedsvc.errors import InvalidValue


@functools.lru_cache(maxsize=256)
def css_to_xpath(selector: str) -> str:
    """Return the XPath 1.0 expression that finds the elements `selector` matches in an HTML tree.

    Raises:
        InvalidValue: `selector` is not a CSS selector cssselect can run (or names a pseudo-element).
    """
    try:
        return str(HTMLTranslator().css_to_xpath(selector))
    except (SelectorError, ExpressionError) as error:
        raise InvalidValue(
            f"{selector!r} is not a CSS selector: {error} (expected one such as a.trsHotWords)"
        ) from None
