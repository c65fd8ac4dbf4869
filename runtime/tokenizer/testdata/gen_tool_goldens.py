#!/usr/bin/env python3
"""Renders chat templates with tools, tool calls, tool results, reasoning
content and template kwargs with Python Jinja2, set up as transformers sets
up its chat-template environment (trim_blocks, lstrip_blocks, loopcontrols,
tojson with ensure_ascii=False, raise_exception, strftime_now), and writes
one JSON line per case to tool_chat.jsonl.

    python3 gen_tool_goldens.py ../../../../shared/testdata/tokenizers > tool_chat.jsonl
"""
import json
import sys
from datetime import datetime

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime(2026, 1, 2, 3, 4, 5).strftime(fmt)
    return env


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}
ASK = {"role": "user", "content": "What's the weather in Paris?"}
CALL = {
    "role": "assistant",
    "content": "",
    "reasoning_content": "The user wants the weather; get_weather gives it.",
    "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}}}
    ],
}
RESULT = {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temperature\": 18}"}

CASES = [
    ("tools_first_turn", [ASK], [WEATHER], {}),
    ("tool_round_trip", [ASK, CALL, RESULT], [WEATHER], {}),
    ("no_thinking", [{"role": "user", "content": "Hi"}], None, {"enable_thinking": False}),
    (
        "reasoning_history",
        [
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4", "reasoning_content": "Two plus two is four."},
            {"role": "user", "content": "3+3?"},
        ],
        None,
        {},
    ),
]


def main():
    root = sys.argv[1]
    env = environment()
    for family in ["qwen3", "llama3"]:
        with open(f"{root}/{family}/tokenizer_config.json") as f:
            cfg = json.load(f)
        tmpl = env.from_string(cfg["chat_template"])
        special = {}
        for k in ["bos_token", "eos_token", "pad_token", "unk_token"]:
            v = cfg.get(k)
            if isinstance(v, dict):
                v = v.get("content")
            if isinstance(v, str):
                special[k] = v
        for name, messages, tools, kwargs in CASES:
            out = tmpl.render(messages=messages, tools=tools, add_generation_prompt=True, **special, **kwargs)
            print(json.dumps({"family": family, "name": name, "messages": messages, "tools": tools,
                              "kwargs": kwargs, "rendered": out}, ensure_ascii=False))


if __name__ == "__main__":
    main()
