"""axe-core in the page: the accessibility check of the main screens (issue 7, item 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["AXE", "serious_violations"]

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"


async def serious_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the page as it is now (WCAG 2.x AA)."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated, not added as a <script>: the app's CSP refuses inline scripts.
        await page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    result = await page.evaluate(
        """async () => {
          const r = await axe.run(document, {
            runOnly: {
              type: 'tag',
              values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'],
            },
          });
          return r.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ') + ' :: ' + n.failureSummary),
          }));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]
