#!/usr/bin/env python3
"""Renders chat templates with Python Jinja2, set up as transformers sets up
its chat-template environment (ImmutableSandboxedEnvironment with
trim_blocks, lstrip_blocks, loopcontrols and the {% generation %} tag; tojson with ensure_ascii=False;
raise_exception; strftime_now at a fixed time), and writes one JSON line per
(template, conversation) to jinja_goldens.jsonl: the template source, the
variables, and either the rendered text or the exception's message.

The templates are the real tokenizers' chat templates under
shared/testdata/tokenizers/*/tokenizer_config.json, the templates of
third_party/jinja/testdata/templates, and the edge cases below. Run once and
commit the output:

    python3 gen_jinja_goldens.py ../../../../shared/testdata/tokenizers \
        ../../../third_party/jinja/testdata/templates > jinja_goldens.jsonl
"""
import glob
import json
import os
import sys

from jinja2 import nodes
from jinja2.ext import Extension

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_tool_goldens import WEATHER, environment as transformers_environment  # noqa: E402


class Generation(Extension):
    """transformers' {% generation %} tag (AssistantTracker), which renders
    its body unchanged unless assistant masks are requested."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def environment():
    env = transformers_environment()
    env.add_extension(Generation)
    return env


CALL = {
    "role": "assistant",
    "content": "",
    "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"location": "Paris"}}}
    ],
}
RESULT = {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temperature\": 18}"}

# (name, messages, extra variables)
CONVERSATIONS = [
    ("one_user", [{"role": "user", "content": "hi"}], {}),
    (
        "system_multi_turn",
        [
            {"role": "system", "content": "Be brief.\n  Answer in French."},
            {"role": "user", "content": "Hello there!"},
            {"role": "assistant", "content": " Bonjour.\n"},
            {"role": "user", "content": "  How are you?  "},
        ],
        {},
    ),
    (
        "tools",
        [{"role": "user", "content": "Weather in Paris?"}, CALL, RESULT],
        {"tools": [WEATHER]},
    ),
    (
        "thinking_off",
        [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "<think>\nadd\n</think>\n\n4"}, {"role": "user", "content": "3+3?"}],
        {"enable_thinking": False},
    ),
]

# Edge cases: (name, template). Each renders with the "edge" conversation.
EDGE_MESSAGES = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
EDGES = [
    ("for_newlines", "{% for m in messages %}{{ m.role }}\n{{ m.content }}\n{% endfor %}"),
    ("for_trim_right_space", "{% for m in messages -%}{{ m.role }} |{% endfor %}"),
    ("string_repeat", "{{ 'ab' * 3 }}|{{ 3 * 'x' }}|{{ 'x' * 2 ** 3 }}|{{ 'x' * 0 }}|{{ 'x' * -2 }}|{{ [1, 2] * 2 }}"),
    ("arithmetic", "{{ 2 ** 10 }}|{{ 2 ** -1 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 7 % -3 }}|{{ 7 / 2 }}|{{ 4 / 2 }}|{{ 1 / 3 }}|{{ 2 * 1.5 }}|{{ 10 - 2.5 }}|{{ 7.5 // 2 }}"),
    ("precedence", "{{ -2**2 }}|{{ 2**3**2 }}|{{ 2 * 3 ** 2 }}|{{ 'a' ~ 2 * 3 }}|{{ 10 - 2 - 3 }}|{{ not 1 == 2 }}|{{ 7 % 3 ** 2 }}|{{ 2 + 3 * 4 }}"),
    ("string_plus_int", "{{ 'a' + 1 }}"),
    ("concat_binds_tighter_than_plus", "{{ 'a' ~ 1 + 2 }}"),
    ("divide_by_zero", "{{ 1 / 0 }}"),
    ("floor_divide_by_zero", "{{ 1 // 0 }}"),
    ("modulo_by_zero", "{{ 1 % 0 }}"),
    ("lstrip_indented_blocks", "<\n  {% if true %}\n    x\n  {% endif %}\n>"),
    ("lstrip_mid_line", "a {% if true %}b{% endif %} c\n  {{ 'e' }}  {% if true %}f{% endif %}"),
    ("trim_after_expression", "{% if true %}{{ 'a' }}\n{% endif %}\n{{ 'b' }}\n{% if true %}\nc{% endif %}"),
    ("comments", "a\n  {# note #}\nb {# inline #} c\n{#- strip -#}\n  d"),
    ("plus_markers", "  {%+ if true +%}\nx\n  {%+ endif %}\ny"),
    ("minus_markers", "a  \n {%- if true -%}  \n b \n {%- endif %}  \n{{- ' c ' -}}  \nd"),
    ("expr_no_trim", "{{ 'a' }}\n  {{ 'b' }}\n"),
    ("loop_controls", "{% for i in range(6) %}{% if i == 4 %}{% break %}{% endif %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{{ loop.index }}{% endfor %}"),
    ("loop_vars", "{% for m in messages %}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{% endfor %}"),
    ("namespace", "{% set ns = namespace(n=0, s='') %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% set ns.s = ns.s ~ m.role[0] %}{% endfor %}{{ ns.n }}{{ ns.s }}"),
    ("filters", "{{ 'Hello' | upper }}|{{ 'HeLLo' | lower }}|{{ '  x ' | trim }}|{{ [3, 1, 2] | sort | join(',') }}|{{ messages | length }}|{{ 'a b' | title }}|{{ 'abc' | reverse | join }}|{{ [1, 2, 3] | first }}|{{ [1, 2, 3] | last }}|{{ 'x' | default('y') }}|{{ undefined_thing | default('y') }}"),
    ("tojson", "{{ {'b': 1, 'a': [true, none, 2.5, 'é']} | tojson }}|{{ messages | tojson }}|{{ 'x\"y' | tojson }}|{{ {'a': 1, 'b': [1, {'c': []}]} | tojson(indent=2) }}|{{ [] | tojson(indent=2) }}"),
    ("print_values", "{{ none }}|{{ true }}|{{ false }}|{{ 1.0 }}|{{ 1e3 }}|{{ 0.1 + 0.2 }}|{{ [1, 'a', none, true] }}|{{ {'a': [1, 2], 'b': 'c'} }}|{{ -0.0 }}"),
    ("string_methods", "{{ 'a,b,c'.split(',') }}|{{ ' x '.strip() }}|{{ 'abc'.startswith('a') }}|{{ 'abc'.endswith('bc') }}|{{ 'abc'.upper() }}|{{ 'a-b'.replace('-', '+') }}|{{ 'xxhixx'.strip('x') }}|{{ 'abc'.title() }}|{{ 'a b'.split() }}|{{ 'abc'.find('c') }}"),
    ("slices", "{{ messages[1:] | length }}|{{ 'abcdef'[1:3] }}|{{ 'abcdef'[::-1] }}|{{ 'abc'[-1] }}|{{ [1, 2, 3, 4][::2] }}|{{ messages[-1].role }}"),
    ("conditionals", "{{ 'a' if messages else 'b' }}|{{ 'a' if not messages else 'b' }}|{{ 1 in [1, 2] }}|{{ 'x' not in 'abc' }}|{{ messages[0].role == 'user' and messages | length > 1 }}|{{ none is none }}|{{ messages is defined }}|{{ nope is undefined }}|{{ 3 is odd }}|{{ 'x' is string }}|{{ {} is mapping }}"),
    ("macro", "{% macro m(a, b=2) %}[{{ a }}{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, 3) }}{{ m(b=5, a=4) }}"),
    ("set_block", "{% set x %}\n  a {{ 1 }}\n{% endset %}[{{ x }}]"),
    ("dict_iteration", "{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}={{ v }};{% endfor %}{% for k in {'y': 1, 'x': 2} %}{{ k }}{% endfor %}"),
    ("string_concat", "{{ 'a' + 'b' }}|{{ 'a' ~ 1 ~ none }}|{{ [1] + [2] }}|{{ 'n=' ~ 2.5 }}"),
    ("raise", "{% if messages | length > 1 %}{{ raise_exception('too many messages') }}{% endif %}"),
    ("strftime", "{{ strftime_now('%d %B %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M') }}"),
]


def special_tokens(cfg):
    special = {}
    for k in ["bos_token", "eos_token", "pad_token", "unk_token"]:
        v = cfg.get(k)
        if isinstance(v, dict):
            v = v.get("content")
        if isinstance(v, str):
            special[k] = v
    return special


def render(env, name, source, messages, variables):
    case = {"name": name, "template": source, "messages": messages, "variables": variables}
    data = {"messages": messages, "add_generation_prompt": True, "tools": None, "documents": None}
    data.update(variables)
    try:
        case["rendered"] = env.from_string(source).render(**data)
    except Exception as e:  # the Go side must fail too
        case["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(case, ensure_ascii=False))


def main():
    tokenizers, templates = sys.argv[1], sys.argv[2]
    env = environment()
    sources = []
    for cfg_path in sorted(glob.glob(os.path.join(tokenizers, "*", "tokenizer_config.json"))):
        with open(cfg_path) as f:
            cfg = json.load(f)
        if isinstance(cfg.get("chat_template"), str):
            family = os.path.basename(os.path.dirname(cfg_path))
            sources.append((family, cfg["chat_template"], special_tokens(cfg)))
    for path in sorted(glob.glob(os.path.join(templates, "*.jinja"))):
        with open(path) as f:
            sources.append((os.path.basename(path), f.read(), {"bos_token": "<s>", "eos_token": "</s>"}))
    for family, source, special in sources:
        for conv, messages, variables in CONVERSATIONS:
            render(env, f"{family}/{conv}", source, messages, {**special, **variables})
    for name, source in EDGES:
        render(env, f"edge/{name}", source, EDGE_MESSAGES, {"bos_token": "<s>"})


main()
