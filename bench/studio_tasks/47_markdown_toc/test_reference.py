from solution import toc

DOC = """# Intro

Some text.

## What's new?

## Install

```sh
# not a heading
pip install thing
```

### From source

# FAQ
"""


def test_nested_headings():
    assert toc(DOC) == (
        "- [Intro](#intro)\n"
        "  - [What's new?](#whats-new)\n"
        "  - [Install](#install)\n"
        "    - [From source](#from-source)\n"
        "- [FAQ](#faq)"
    )


def test_levels_are_relative_to_the_smallest():
    assert toc("## A\n### B\n## C") == "- [A](#a)\n  - [B](#b)\n- [C](#c)"


def test_repeated_anchors_are_numbered():
    doc = "## Usage\n## Usage\n## Usage"
    assert toc(doc) == "- [Usage](#usage)\n- [Usage](#usage-1)\n- [Usage](#usage-2)"


def test_anchor_characters():
    assert toc("# C++ & Python_3 tips") == "- [C++ & Python_3 tips](#c--python_3-tips)"


def test_not_headings():
    assert toc("") == ""
    assert toc("#hashtag is not a heading\nplain text") == ""
    assert toc("```\n# comment in code\n```") == ""
