"""Abstracts and descriptions: Markdown with inline LaTeX, as plain text or as safe HTML.

Plain text keeps the Markdown source (it reads well) and turns each LaTeX formula into
Unicode with pylatexenc (`$\\infty$-Laplacian` → `∞-Laplacian`). HTML comes from
markdown-it (raw HTML disabled) with formulas rendered server-side to MathML by
latex2mathml, so no script or CDN is needed; nh3 then sanitises the result.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

import nh3
from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pylatexenc.latex2text import LatexNodes2Text

_MATH = re.compile(r"\$\$(.+?)\$\$|\$(?!\s)([^$\n]+?)(?<!\s)\$|\\\((.+?)\\\)", re.DOTALL)

MATHML_TAGS = {
    "math",
    "mrow",
    "mi",
    "mn",
    "mo",
    "ms",
    "mtext",
    "mspace",
    "msup",
    "msub",
    "msubsup",
    "mfrac",
    "msqrt",
    "mroot",
    "mover",
    "munder",
    "munderover",
    "mtable",
    "mtr",
    "mtd",
    "mstyle",
    "mpadded",
    "mphantom",
    "menclose",
    "semantics",
    "annotation",
}
HTML_TAGS = {
    "p",
    "br",
    "em",
    "strong",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "del",
    "sup",
    "sub",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "span",
    "div",
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "math": {"display", "xmlns"},
    "mo": {"stretchy", "fence", "separator", "lspace", "rspace", "form"},
    "mstyle": {"displaystyle", "scriptlevel", "mathvariant"},
    "mi": {"mathvariant"},
    "mspace": {"width"},
    "mtable": {"columnalign", "rowspacing", "columnspacing"},
    "td": {"align"},
    "th": {"align"},
    "span": {"class", "lang"},
    "div": {"class", "lang"},
}


@cache
def _latex() -> LatexNodes2Text:
    return LatexNodes2Text(math_mode="text", strict_latex_spaces=False)


def latex_to_text(formula: str) -> str:
    """Return a LaTeX formula as readable Unicode text."""
    try:
        return str(_latex().latex_to_text(formula)).strip()
    except Exception:  # noqa: BLE001 - a formula pylatexenc cannot read stays as written
        return formula


# Pure functions of their text: a bounded memo saves re-converting one abstract for each of
# thousands of emails or feed items (it holds no data that could go stale).
@lru_cache(maxsize=2048)
def plain_text(markdown: str) -> str:
    """Return Markdown with its inline LaTeX turned into Unicode, for text/plain contexts."""

    def replace(match: re.Match[str]) -> str:
        formula = next(group for group in match.groups() if group is not None)
        return latex_to_text(formula)

    return _MATH.sub(replace, markdown)


def _math_html(formula: str, display: bool) -> str:
    try:
        return str(latex_to_mathml(formula, display="block" if display else "inline"))
    except Exception:  # noqa: BLE001 - unparseable LaTeX falls back to escaped source
        escaped = formula.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f'<code class="math-source">{escaped}</code>'


@cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table").enable("strikethrough")
    dollarmath_plugin(
        md,
        allow_space=False,
        double_inline=True,
        renderer=lambda text, opts: _math_html(text, bool(opts.get("display_mode"))),
    )
    return md


def sanitise(html: str) -> str:
    """Remove anything that can run: scripts, event handlers, javascript: URLs."""
    return nh3.clean(
        html,
        tags=HTML_TAGS | MATHML_TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


@lru_cache(maxsize=2048)
def markdown_html(markdown: str) -> str:
    """Return Markdown with LaTeX as sanitised HTML with MathML."""
    return sanitise(_markdown().render(markdown))


# CJK Radicals Supplement characters without an NFKC mapping, as their unified ideographs
# (Unicode's EquivalentUnifiedIdeograph.txt); PDF copies of Chinese text are full of them.
RADICALS = str.maketrans(
    "⺁⺇⺌⺍⺕⺝⺩⺮⺶⺼⻄⻅⻆⻈⻉⻋⻓⻔⻘⻙⻚⻛⻜⻝⻢⻥⻦⻨⻩⻬⻮⻰⻳",
    "厂几小小彐月王竹羊月西见角讠贝车长门青韦页风飞食马鱼鸟麦黄齐齿龙龟",
)


def readable(text: str) -> str:
    """Return text with CJK/Kangxi radical look-alikes (PDF copy artefacts) as ideographs."""
    text = text.translate(RADICALS)
    return "".join(
        unicodedata.normalize("NFKC", ch) if "\u2e80" <= ch <= "\u2fdf" else ch for ch in text
    )
