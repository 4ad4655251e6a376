"""The language has one source: keywords are read from sigma.lark, every grammar rule has its own builder in the
parser, every placement statement has a kind module in the registry (and back), and parsed values carry the
character spans the editor edits at."""

from __future__ import annotations

import random
import re

import pytest

import sigmascene
from sigmascene.grammar.parser import GRAMMAR, _builder_class, _lark, grammar_units, grammar_words, parse_source
from sigmascene.scene import KINDS
from sigmascene.testing import fuzz


def test_every_grammar_rule_has_a_builder_method():
    build = _builder_class()
    names = {r.alias or r.origin.name for r in _lark().rules if not (r.options.expand1 and not r.alias)}
    missing = sorted(n for n in names if not n.startswith("_") and n not in vars(build))
    assert missing == []


def test_placement_statements_and_kind_modules_match():
    items = grammar_words()[1]
    assert {kw: items.get(kw) for kw in KINDS} == {kw: f"s_{kw}" for kw in KINDS}  # every kind has its statement
    text = 'sigma 1\nsubject a { ' + " ".join(KINDS[kw].example(random.Random(1)) for kw in ["box2d"]) + " }\n"
    kinds_parsed = {type(it).__name__ for it in parse_source(text, "<t>").stmts[-1].items}
    assert kinds_parsed == {"PlacementStmt"}  # a registered kind's statement is built as a placement
    for kw, kind in KINDS.items():
        assert kind.node.model_fields["kind"].default == kw
        assert getattr(sigmascene, kind.node.__name__) is kind.node  # exported from the face without an edit there
        assert getattr(sigmascene, kw) is kind.build


def test_keywords_and_units_come_from_the_grammar_file():
    text = GRAMMAR.read_text(encoding="utf-8")
    quoted = set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', text))
    unit_rule = re.search(r"^UNIT:(.*)$", text, re.M)
    assert unit_rule is not None
    assert set(re.findall(r'"(\w+)"', unit_rule.group(1))) == set(grammar_units())
    assert set(grammar_words()[2]) == quoted - set(grammar_units())
    assert set(fuzz.KEYWORDS) == quoted


@pytest.mark.parametrize("kw", sorted(KINDS))
def test_each_kind_generates_statements_that_parse_print_and_span(kw):
    kind = KINDS[kw]
    rng = random.Random(7)
    for _ in range(20):
        item = kind.example(rng)
        text = f'sigma 1\ncanvas 64 x 64\nsubject a {{\n    ref "refs/cat.png"\n    {item}\n}}\n'
        scene = sigmascene.loads(text, base_dir=fuzz_examples())
        p = scene.subjects[0].placement
        assert p.kind == kw
        start, end = p._spans[""]
        assert text[start:end] == item  # the statement's span is exactly its text
        assert scene.subjects[0]._spans["item:placement"] == (start, end)
        assert sigmascene.loads(sigmascene.dumps(scene), base_dir=fuzz_examples()) == scene


def test_value_spans_cover_a_number_with_its_unit_and_a_whole_string():
    text = 'sigma 1\ncanvas 64 x 64\nparam w = 2 cm\nsubject a {\n  ref "refs/cat.png"\n  box2d (8 px, 0, 1, 1)\n' \
           '  depth $w\n}\n'
    parsed = parse_source(text, "<t>")
    scene = sigmascene.loads(text, base_dir=fuzz_examples())
    s = scene.subjects[0]
    assert [text[a:b] for a, b in (s.placement._spans["x0"], s._spans["ref"], s._spans["depth"],
                                   scene.params[0]._spans["value"], s._spans["name"])] == \
        ["8 px", '"refs/cat.png"', "$w", "2 cm", "a"]
    assert text[slice(*s._spans["item:depth"])] == "depth $w"
    whole = text[slice(*parsed.stmts[-1].span)]
    assert whole.startswith("subject a {") and whole.endswith("}")


def fuzz_examples():
    from repo_paths import EXAMPLES

    return EXAMPLES
