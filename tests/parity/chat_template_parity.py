#!/usr/bin/env python3
"""Oracle for longctx's chat-template interpreter (src/chat/): renders templates with Python
jinja2 exactly as transformers does and writes the results to tests/data/chat_templates.json,
which tests/chat_template_parity_test.cc compares with longctx byte for byte.

transformers (utils/chat_template_utils.py, _compile_jinja_template / render_jinja_template)
renders in an ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the
loopcontrols extension and its {% generation %} tag, overrides the tojson filter with
json.dumps(x, ensure_ascii=False, indent, separators, sort_keys), adds the globals
raise_exception and strftime_now, and passes messages, tools, documents,
add_generation_prompt and the special tokens. This script builds the same environment.

    /usr/bin/python3 tests/parity/chat_template_parity.py           # regenerate the fixture
    /usr/bin/python3 tests/parity/chat_template_parity.py --check   # fixture still matches jinja2?

Needs jinja2 (pip install --break-system-packages jinja2) and, for SmolLM2's template, the gguf
package and ../shared/assets/real_models/SmolLM2-135M-Instruct.Q4_1.gguf.
"""
import argparse
import calendar
import copy
import json
import os
import sys
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chat_template_cases import CONSTRUCT_CASES, DEF, EXTRA_CHAT_CASES, MESSAGE_SETS  # noqa: E402
from chat_template_templates import REAL_TEMPLATES  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURE = os.path.join(REPO, "tests", "data", "chat_templates.json")
SMOLLM2 = "real_models/SmolLM2-135M-Instruct.Q4_1.gguf"
NOW = datetime(2025, 3, 14, 15, 9, 26)  # strftime_now's clock in the fixture, as UTC


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt):
        return NOW.strftime(fmt)

    class AssistantTracker(Extension):  # transformers' {% generation %} tag, mask tracking off
        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            call = self.call_method("_generation_support")
            return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

        @jinja2.pass_eval_context
        def _generation_support(self, context, caller):
            return caller()

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def smollm2_template(assets):
    import gguf
    path = os.path.join(assets, SMOLLM2)
    if not os.path.exists(path):
        sys.exit(f"chat_template_parity: {path} not found (pass --assets or set LONGCTX_ASSETS)")
    reader = gguf.GGUFReader(path)

    def field(key):
        f = reader.fields[key]
        return f.parts[f.data[0]]

    tokens = reader.fields["tokenizer.ggml.tokens"]

    def token(key):
        return bytes(tokens.parts[tokens.data[int(field(key)[0])]]).decode()

    return (bytes(field("tokenizer.chat_template")).decode(), token("tokenizer.ggml.bos_token_id"),
            token("tokenizer.ggml.eos_token_id"))


def render(env, source, context):
    context = copy.deepcopy(context)  # a filter may change a list in place (list += str)
    try:
        return {"expected": env.from_string(source).render(**context)}
    except Exception as e:  # noqa: BLE001 -- every jinja2 failure is an expected error here
        out = {"error": f"{type(e).__name__}: {e}"}
        if isinstance(e, jinja2.exceptions.TemplateError) and type(e) is jinja2.TemplateError:
            out["error_contains"] = str(e)  # raise_exception's message
        return out


def build(assets):
    env = make_env()
    templates = dict(REAL_TEMPLATES)
    templates["smollm2"] = smollm2_template(assets)
    cases = []
    # Real templates x message sets x add_generation_prompt, rendered as apply_chat_template
    # does: "chat" cases go through longctx's render_chat with the template's BOS/EOS texts.
    for name, (source, bos, eos) in templates.items():
        for set_name, messages in MESSAGE_SETS.items():
            for agp in (False, True):
                context = {"messages": messages, "tools": None, "documents": None,
                           "add_generation_prompt": agp, "bos_token": bos, "eos_token": eos}
                case = {"name": f"{name}/{set_name}/agp={int(agp)}", "kind": "chat",
                        "template": name, "messages": set_name, "add_generation_prompt": agp}
                case.update(render(env, source, context))
                cases.append(case)
    # Tools, tool calls, content lists, extra variables: Template::render(context).
    for name, template_name, context in EXTRA_CHAT_CASES:
        source, bos, eos = templates[template_name]
        full = {"tools": None, "documents": None, "add_generation_prompt": True,
                "bos_token": bos, "eos_token": eos}
        full.update(context)
        case = {"name": f"{template_name}/{name}", "kind": "render", "template": template_name,
                "context": full}
        case.update(render(env, source, full))
        cases.append(case)
    # One template per construct: Template::render(base_context updated with "context").
    for name, source, extra in CONSTRUCT_CASES:
        context = dict(DEF)
        context.update(extra)
        case = {"name": f"construct/{name}", "kind": "render", "source": source,
                "context": extra, "base_context": True}
        case.update(render(env, source, context))
        cases.append(case)
    return {
        "generator": "tests/parity/chat_template_parity.py",
        "jinja2_version": jinja2.__version__,
        "python_version": sys.version.split()[0],
        "strftime_now_unix_seconds": calendar.timegm(NOW.timetuple()),
        "templates": {name: {"source": t[0], "bos_token": t[1], "eos_token": t[2]}
                      for name, t in templates.items()},
        "message_sets": MESSAGE_SETS,
        "base_context": DEF,
        "cases": cases,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assets", default=os.environ.get(
        "LONGCTX_ASSETS", os.path.join(REPO, "..", "shared", "assets")))
    ap.add_argument("--out", default=FIXTURE)
    ap.add_argument("--check", action="store_true",
                    help="compare with the committed fixture instead of writing it")
    args = ap.parse_args()
    data = build(args.assets)
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    n_err = sum("error" in c for c in data["cases"])
    summary = (f"{len(data['cases'])} cases ({n_err} expected errors), "
               f"{len(data['templates'])} real templates, jinja2 {jinja2.__version__}")
    if args.check:
        with open(args.out, encoding="utf-8") as f:
            old = json.load(f)
        old["jinja2_version"] = data["jinja2_version"]
        old["python_version"] = data["python_version"]
        if old != data:
            print(f"chat_template_parity: {args.out} differs from jinja2's output; regenerate it")
            return 1
        print(f"chat_template_parity: fixture matches jinja2: {summary}")
        return 0
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"chat_template_parity: wrote {args.out}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
