"""An automated accessibility check run inside the page (no axe-core: nothing may be
fetched from outside, and these rules cover what the console relies on).

:data:`AUDIT_JS` (``a11y_audit.js``) is a JavaScript function expression;
``audit(browser)`` runs it and returns one line per problem found in what is rendered
now (elements inside ``hidden`` ancestors are skipped, as assistive technology skips
them):

* every form control and button has an accessible name (label, aria-label(ledby), title,
  or a button's text), and every link has text;
* ``aria-labelledby`` / ``aria-describedby`` / ``label[for]`` point at existing ids, and
  ids are unique;
* images have ``alt``; every ``<svg>`` not hidden from assistive technology is
  ``role="img"`` with a name;
* exactly one ``h1`` outside dialogs, and heading levels never skip (h1 -> h3);
* every table has a caption or an aria label;
* no positive ``tabindex``; ``<html lang>`` and a document title are set;
* a polite live region exists for announcements.
"""

from __future__ import annotations

from pathlib import Path

from tests.browser.cdp import Browser

AUDIT_JS = (Path(__file__).parent / "a11y_audit.js").read_text()


def audit(browser: Browser) -> list[str]:
    """The accessibility problems of the page as rendered now (empty: none found)."""
    problems = browser.evaluate(f"({AUDIT_JS})()")
    assert isinstance(problems, list)
    return [str(p) for p in problems]
