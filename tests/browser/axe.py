"""axe-core in the page: the accessibility checker the browser tests run, offline.

The checker is axe-core 4.9.1's ``axe.min.js``, kept in ``tests/browser/vendor`` (see its README):
it is injected into the page (no request leaves the machine) and ``axe.run`` is called through
selenium's ``execute_async_script``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

#: Impacts a page must not have (axe's scale: minor, moderate, serious, critical).
BLOCKING = ("serious", "critical")
TIMEOUT = 60  # seconds for one axe.run (the map page holds some thousand nodes)

RUN = """
const [context, options, done] = arguments;
axe.run(context || document, options)
  .then(results => done({violations: results.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary})),
  }))}))
  .catch(error => done({error: String(error)}));
"""


@functools.cache
def source() -> str:
    """The text of axe.min.js (axe-core) as the package ships it."""
    return (Path(__file__).resolve().parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")


def version(driver: Any) -> str:
    """The axe-core version injected into the page."""
    inject(driver)
    return str(driver.execute_script("return axe.version;"))


def inject(driver: Any) -> None:
    """Put ``window.axe`` into the page shown (once per document)."""
    if not driver.execute_script("return typeof window.axe === 'object' && !!window.axe.run;"):
        driver.execute_script(source())


def run(driver: Any, context: Any = None, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The violations axe finds in the page shown (``context``: a selector or axe context, the
    whole document by default), each as {id, impact, help, helpUrl, nodes: [{target, html,
    summary}]}."""
    inject(driver)
    driver.set_script_timeout(TIMEOUT)
    got = driver.execute_async_script(RUN, context, options or {"resultTypes": ["violations"]})
    if not isinstance(got, dict) or "violations" not in got:
        raise RuntimeError(f"axe.run failed: {got!r}")
    return list(got["violations"])


def blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The violations of a serious or critical impact."""
    return [v for v in violations if v.get("impact") in BLOCKING]


def describe(violations: list[dict[str, Any]], nodes: int = 3) -> str:
    """One line per violation (rule id, impact, how many nodes, the rule's help), and under each
    serious or critical one the first ``nodes`` offending elements (selector and axe's summary)."""
    if not violations:
        return "  (none)"
    lines = []
    for violation in violations:
        count = len(violation["nodes"])
        lines.append(f"  {violation['id']} [{violation['impact']}] {count} node(s): {violation['help']}")
        if violation.get("impact") in BLOCKING:
            for node in violation["nodes"][:nodes]:
                summary = " ".join(str(node.get("summary") or "").split())
                lines.append(f"      {' '.join(map(str, node['target']))}: {summary[:240]}")
    return "\n".join(lines)
