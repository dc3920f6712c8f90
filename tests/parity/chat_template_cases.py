"""Message sets and per-construct templates for tests/parity/chat_template_parity.py."""

SPECIAL = ("  Quotes ' and \" and \\ backslash, {{ not_a_tag }} {% raw %} <b>&amp;</b>\n"
           "second line\ttab, unicode: é ü 中文 🙂 \u2028 done  ")

MESSAGE_SETS = {
    "user": [{"role": "user", "content": "Hello!"}],
    "system_user": [{"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": "What is 2+2?"}],
    "multi_turn": [{"role": "user", "content": "Hi there"},
                   {"role": "assistant", "content": "Hello! How can I help?"},
                   {"role": "user", "content": "Tell me a joke."}],
    "system_multi_turn": [{"role": "system", "content": "Be brief."},
                          {"role": "user", "content": "Capital of France?"},
                          {"role": "assistant", "content": " Paris. "},
                          {"role": "user", "content": "And of Italy?"}],
    "special_chars": [{"role": "system", "content": SPECIAL},
                      {"role": "user", "content": SPECIAL},
                      {"role": "assistant", "content": "<think>\nhmm\n</think>\n\n" + SPECIAL},
                      {"role": "user", "content": "\n\nok\n\n"}],
    # Roles that do not alternate: Gemma and Mistral raise_exception, others render.
    "user_user": [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}],
    "assistant_first": [{"role": "assistant", "content": "I start."},
                        {"role": "user", "content": "Fine."}],
    # No messages: templates that read messages[0] fail (undefined), others render.
    "empty": [],
}

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the weather in a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. \"Paris\""},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"]}}}]
TOOL_CALL = {"id": "call12345", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Zürich", "unit": "celsius"}}}
TOOL_TURNS = [{"role": "user", "content": "Weather in Zürich?"},
              {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]},
              {"role": "tool", "content": "{\"temp\": 21.5}", "tool_call_id": "call12345"},
              {"role": "assistant", "content": "It is 21.5 °C."},
              {"role": "user", "content": "Thanks"}]
TOOL_TURNS_NONE_CONTENT = [dict(m, content=None) if m.get("tool_calls") else m for m in TOOL_TURNS]

# (name, template, variables beyond the defaults of a chat render)
EXTRA_CHAT_CASES = [
    ("tools", "qwen2.5", {"messages": TOOL_TURNS, "tools": TOOLS}),
    ("tools", "qwen3", {"messages": TOOL_TURNS, "tools": TOOLS}),
    ("tools", "llama3.1", {"messages": TOOL_TURNS[:1], "tools": TOOLS}),
    ("tools_system_prompt", "llama3.1",
     {"messages": TOOL_TURNS[:1], "tools": TOOLS, "tools_in_user_message": False,
      "date_string": "01 Jan 2025"}),
    ("tool_call_turns", "llama3.1", {"messages": TOOL_TURNS}),
    ("builtin_tools", "llama3.1",
     {"messages": [{"role": "user", "content": "Search it"},
                   {"role": "assistant", "tool_calls": [{"function": {
                       "name": "brave_search", "arguments": {"query": "longctx"}}}]}],
      "builtin_tools": ["brave_search", "code_interpreter"]}),
    ("tools", "mistral-v0.3", {"messages": TOOL_TURNS, "tools": TOOLS}),
    ("system", "mistral-v0.3", {"messages": MESSAGE_SETS["system_multi_turn"]}),
    ("tool_calls", "deepseek-r1", {"messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"type": "function", "function": {"name": "get_weather",
                                              "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "content": "sunny"},
        {"role": "assistant", "content": "<think>ok</think>It is sunny."}]}),
    ("content_list", "gemma3", {"messages": [
        {"role": "system", "content": [{"type": "text", "text": "Look closely."}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": " What is it? "}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]}]}),
    ("invalid_content", "gemma3", {"messages": [{"role": "user", "content": 42}]}),
    ("thinking_off", "qwen3", {"messages": MESSAGE_SETS["multi_turn"], "enable_thinking": False}),
    ("reasoning_content", "qwen3", {"messages": [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4", "reasoning_content": "\nadd them\n"}],
        "add_generation_prompt": False}),
]

MSGS = MESSAGE_SETS["system_multi_turn"]
DEF = {"messages": MSGS, "d": {"a": 1, "b": [1, 2], "c": None}, "xs": [3, 1, 2],
       "s": "  Hello World  ", "words": ["b", "A", "c", "a"], "n": 7, "f": 2.5,
       "users": [{"name": "ann", "age": 31, "tags": ["x"]}, {"name": "Bob", "age": 25, "tags": []},
                 {"name": "cy", "age": 31}]}


def c(name, template, **extra):
    return (name, template, extra)  # the context is DEF updated with extra


CONSTRUCT_CASES = [
    # --- whitespace control, trim_blocks, lstrip_blocks, comments, raw, newlines
    c("ws_trim_blocks", "a\n{% if true %}\nb\n{% endif %}\nc"),
    c("ws_lstrip_line_start", "x\n    {% if true %}y{% endif %}  \nz"),
    c("ws_lstrip_template_start", "  \t{% if true %}y{% endif %}"),
    c("ws_no_lstrip_mid_line", "a  {% if true %}x{% endif %}"),
    c("ws_no_lstrip_for_vars", "a\n    {{ 'v' }}\n"),
    c("ws_for_body_lines", "{% for i in [1, 2] %}\n  {{ i }}\n{% endfor %}\nend"),
    c("ws_minus_both", "a  \n {%- if true -%}  \n x \n  {%- endif -%} \n b"),
    c("ws_minus_vars", "a\n  {{- 'b' -}}  \n  c"),
    c("ws_minus_only_left", "line1\n    {%- if true %}\n    text\n    {%- endif %}\nend"),
    c("ws_plus_lstrip", "x\n   {%+ if true %}y{% endif %}"),
    c("ws_plus_trim", "{% if true +%}\ny{% endif %}"),
    c("ws_var_no_trim", "{{ 'a' }}\nb"),
    c("ws_comment", "a\n{# a comment #}\nb\n  {# indented #}\nc {#- tight -#} d"),
    c("ws_comment_with_tags", "{# {{ x }} {% if %} #}ok"),
    c("ws_raw", "{% raw %}{{ x }}{% if %}{% endraw %}|{% raw -%}  {{ y }}  {%- endraw %}|"),
    c("ws_raw_lines", "a\n  {% raw %}\n  {{ z }}\n  {% endraw %}\nb"),
    c("ws_trailing_newline", "abc\n"),
    c("ws_two_trailing_newlines", "abc\n\n"),
    c("ws_crlf", "a\r\nb\r\n{% if true %}\r\nc{% endif %}\rd\r\n"),
    c("ws_set_lines", "{% set x = 1 %}\n{% set y = 2 %}\n{{ x + y }}\n"),
    c("ws_nested_indent", "{% for m in messages %}\n    {% if m.role == 'user' %}\n        "
                          "U:{{ m.content }}\n    {% else %}\n        O\n    {% endif %}\n"
                          "{% endfor %}"),
    c("ws_newline_after_var_end", "{% for i in xs %}{{ i }}\n{% endfor %}"),
    c("ws_unicode_space_minus", "a\u00a0\u3000 {{- 'b' }}"),
    # --- literals and printing
    c("lit_strings", "{{ 'a\\nb' }}|{{ \"q\\\"uote\" }}|{{ 'it\\'s' }}|{{ 'tab\\tx' }}|"
                     "{{ '\\u00e9\\x41\\101\\U0001F600' }}|{{ 'back\\\\slash' }}|{{ 'un\\known' }}|"
                     "{{ 'adj' 'acent' }}"),
    c("lit_multiline_string", "{{ 'line1\nline2' }}"),
    c("lit_numbers", "{{ 42 }} {{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1.5 }} {{ 1.5e3 }} "
                     "{{ 1e-7 }} {{ 2E+2 }}"),
    c("lit_consts", "{{ true }} {{ True }} {{ false }} {{ none }} {{ None }}"),
    c("lit_containers", "{{ [1, 'a', none, true, 1.5] }} {{ {'k': 'v', 'n': [1, {'x': none}]} }} "
                        "{{ (1,) }} {{ (1, 2) }} {{ () }} {{ [] }} {{ {} }} {{ [1, 2,] }}"),
    c("lit_repr_strings", "{{ ['a\"b', \"c'd\", 'e\\nf', 'é', 'x\\\\y', '\\x01', \"both'\\\"\"] }}"),
    c("lit_float_repr", "{{ 0.1 + 0.2 }} {{ 1/3 }} {{ 2.0 }} {{ 1e16 }} {{ 1e15 }} {{ 123456789.0 * 1000 }} "
                        "{{ -0.0 }} {{ 0.0001 }} {{ 0.00001 }} {{ 1.5e300 * 1e10 }} {{ 100.0 }} "
                        "{{ 5e-324 }} {{ 1.7976931348623157e308 }}"),
    c("lit_tuple_output", "{{ 1, 'a' }}"),
    # --- arithmetic and operators
    c("op_arith", "{{ 1 + 2 * 3 - 4 }} {{ (1 + 2) * 3 }} {{ 10 / 4 }} {{ 4 / 2 }} {{ 10 // 4 }} "
                  "{{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -2 }} {{ 2 ** 3 ** 2 }} "
                  "{{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 7 % 2.5 }} {{ -n }} {{ +n }} {{ - -3 }}"),
    c("op_mixed_types", "{{ 1 + 1.5 }} {{ true + 1 }} {{ 3 * 1.0 }} {{ f * 2 }} {{ n / 7 }}"),
    c("op_concat", "{{ 'ab' ~ 1 ~ none ~ true ~ 1.5 ~ [1] ~ nothing }}"),
    c("op_string_ops", "{{ 'ab' + 'cd' }} {{ 'ab' * 3 }} {{ 2 * 'x' }} {{ 'x' * 0 }} {{ 'x' * -1 }}"),
    c("op_list_ops", "{{ [1, 2] + [3] }} {{ [1] * 3 }} {{ (1,) + (2,) }}"),
    c("op_compare", "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' < 'b' }} {{ 'B' < 'a' }} {{ [1, 2] < [1, 3] }} "
                    "{{ 1 == 1.0 }} {{ true == 1 }} {{ none == none }} {{ 'a' != 'b' }} {{ 2 >= 2 }} "
                    "{{ [1] == (1,) }} {{ {'a': 1} == {'a': 1} }} {{ 'é' > 'z' }} {{ 2 <= 1 }}"),
    c("op_in", "{{ 'a' in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'cat' }} "
               "{{ 'role' in messages[0] }} {{ 'tool_calls' in messages[0] }} {{ 1 in (1, 2) }} "
               "{{ '' in 'abc' }} {{ not 'x' in 'y' }}"),
    c("op_logic", "{{ 0 or 'x' }} {{ 1 and 'y' }} {{ not none }} {{ not 'a' }} {{ '' or [] or 0 }} "
                  "{{ none and nothing }} {{ nothing or 'fallback' }} {{ true and not false or none }}"),
    c("op_condexpr", "{{ 'y' if true else 'n' }}|{{ 'y' if false }}|"
                     "{{ 'a' if false else 'b' if true else 'c' }}|{{ ('p' if n > 5 else 'q') ~ '!' }}"),
    c("op_precedence", "{{ 'a' ~ 2 * 3 }} {{ not 1 == 2 }} {{ -2 ** 2 }} {{ 2 * 3 % 4 }} "
                       "{{ 'a' ~ 'b' if false else 'c' }} {{ 10 - 2 - 3 }} {{ 64 / 4 / 2 }}"),
    # --- attribute, item and slice access
    c("access_items", "{{ messages[0].role }} {{ messages[-1]['content'] }} [{{ messages[9] }}] "
                      "{{ d.a }} {{ d['b'][1] }} [{{ d.zz }}] {{ xs.0 }} {{ users[1].name }}"),
    c("access_slices", "{{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ [1, 2, 3, 4][1:] }} "
                       "{{ [1, 2, 3, 4][::2] }} {{ [1, 2, 3, 4][-2:] }} {{ [1, 2, 3][5:] }} "
                       "{{ [1, 2, 3, 4][3:0:-1] }} {{ (1, 2, 3)[1:] }} {{ 'héllo'[1] }} "
                       "{{ 'héllo'[-1:0:-2] }} {{ xs[:] }} {{ xs[:-1] }} {{ 'abc'[-10:10] }}"),
    c("access_messages_reversed", "{{ messages[::-1]|map(attribute='role')|join(',') }}"),
    c("access_missing", "[{{ messages[0].missing }}] {{ messages[0].missing is defined }} "
                        "{{ d.c is none }} [{{ none.attr }}] {{ d['items'] is defined }}"),
    c("access_undefined", "[{{ nothing }}] {{ nothing is defined }} {{ nothing is undefined }} "
                          "{{ nothing|default('d') }} {{ nothing|length }} [{{ nothing|trim }}] "
                          "{{ nothing == nothing }} {% for x in nothing %}x{% endfor %}."),
    # --- if / for / loop
    c("stmt_if_chain", "{% for v in [1, 5, 10] %}{% if v < 3 %}small{% elif v < 7 %}mid"
                       "{% elif v < 9 %}big{% else %}huge{% endif %} {% endfor %}"),
    c("stmt_loop_vars", "{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}"
                        "{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}"
                        "{{ loop.depth }}|{% endfor %}"),
    c("stmt_loop_prev_next", "{% for x in xs %}{{ loop.previtem|default('-') }}{{ x }}"
                             "{{ loop.nextitem|default('-') }} {% endfor %}"),
    c("stmt_loop_cycle", "{% for x in range(5) %}{{ loop.cycle('a', 'b', 'c') }}{% endfor %}"),
    c("stmt_for_else", "{% for x in [] %}x{% else %}empty{% endfor %}|"
                       "{% for x in xs %}{{ x }}{% else %}no{% endfor %}"),
    c("stmt_for_filter", "{% for m in messages if m.role != 'system' %}{{ loop.index }}/{{ loop.length }}"
                         ":{{ m.role }} {% endfor %}"),
    c("stmt_for_dict", "{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %} "
                       "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} "
                       "{% for k, v in d|items %}{{ k }}{% endfor %} "
                       "{% for (a, b) in [(1, 2), (3, 4)] %}{{ a + b }}{% endfor %}"),
    c("stmt_for_string", "{% for ch in 'aé🙂' %}[{{ ch }}]{% endfor %}"),
    c("stmt_nested_loops", "{% for a in [1, 2] %}{% for b in ['x', 'y'] %}{{ a }}{{ b }}{{ loop.index }} "
                           "{% endfor %}{{ loop.index }}|{% endfor %}"),
    c("stmt_break_continue", "{% for i in range(10) %}{% if i == 5 %}{% break %}{% endif %}"
                             "{% if i is odd %}{% continue %}{% endif %}{{ i }}{% endfor %}"),
    c("stmt_loop_var_restored", "{% set i = 9 %}{% for i in [1, 2] %}{{ i }}{% endfor %}{{ i }}"),
    # --- set and scoping
    c("scope_set_in_loop", "{% set x = 0 %}{% for i in [1, 2] %}{{ x }}{% set x = x + i %}{{ x }};"
                           "{% endfor %}{{ x }}"),
    c("scope_set_in_if", "{% if true %}{% set y = 5 %}{% endif %}{{ y }}"),
    c("scope_if_in_loop", "{% for i in [1, 2] %}{% if i == 1 %}{% set y = 5 %}{% endif %}{{ y }};"
                          "{% endfor %}[{{ y }}]"),
    c("scope_shadow_context", "{% set messages = messages[1:] %}{{ messages|length }}"),
    c("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set (c, e) = ['x', 'y'] %}{{ c }}{{ e }}"),
    c("set_block", "{% set x %}hello {{ 'world' }}{% endset %}[{{ x }}] {{ x|length }}"),
    c("namespace", "{% set ns = namespace(count=0, found=false, last='') %}{% for m in messages %}"
                   "{% set ns.count = ns.count + 1 %}{% if m.role == 'user' %}{% set ns.found = true %}"
                   "{% set ns.last = m.content %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }} "
                   "{{ ns.last }} {{ ns.missing is defined }}"),
    c("namespace_dict_arg", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}"
                            "{% set ns.a = [ns.a, ns.b] %}{{ ns.a }} {{ ns['b'] }}"),
    # --- macros, filter blocks, with, print, generation
    c("macro", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}"
               "{{ greet('A') }} {{ greet('B', '?') }} {{ greet(punct='.', name='C') }} "
               "{{ greet('D')|upper }}"),
    c("macro_sees_globals", "{% macro m() %}{{ z }}{{ messages|length }}{% endmacro %}"
                            "{% set z = 3 %}{{ m() }}"),
    c("macro_recursion", "{% macro count(n) %}{{ n }}{% if n > 0 %}{{ count(n - 1) }}{% endif %}"
                         "{% endmacro %}{{ count(5) }}"),
    c("macro_missing_arg", "{% macro m(a, b) %}[{{ a }}][{{ b }}]{% endmacro %}{{ m(1) }}"),
    c("filter_block", "{% filter upper %}abc {{ 'def' }}{% endfilter %}|"
                      "{% filter replace('a', 'o')|title %}a cat{% endfilter %}"),
    c("with_block", "{% with a = 5, b = 'x' %}{{ a }}{{ b }}{% endwith %}[{{ a }}]"),
    c("print_stmt", "{% print 'p' ~ 1 %}"),
    c("generation", "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}"
                    "{{ m.content }}{% endgeneration %}{% endif %}{% endfor %}"),
    c("scope_blocks", "{% set x %}{% set inner = 1 %}a{% endset %}[{{ inner }}]"
                      "{% generation %}{% set g = 1 %}{% endgeneration %}[{{ g }}]"
                      "{% filter upper %}{% set fb = 1 %}{% endfilter %}[{{ fb }}]"
                      "{% with a = 1, b = a %}[{{ b }}]{% endwith %}"
                      "{% set q = 1 %}{% with q = q + 1 %}{{ q }}{% endwith %}{{ q }}"
                      "{% for i in [1] %}{% set r = 1 %}{% endfor %}[{{ r }}]"
                      "{% for x in [] %}{% else %}{% set t = 2 %}{{ t }}{% endfor %}[{{ t }}]"),
    c("scope_first_in_loop", "{% for m in messages %}{% if loop.first %}{% set first = m %}"
                             "{% endif %}{% endfor %}[{{ first }}]"),
    # jinja2 resolves names per scope at compile time: a name assigned later in a scope, with
    # no earlier mention there or outside, is undefined before the assignment.
    c("scope_static_store_first", "{% for i in [1] %}[{{ n }}]{% endfor %}{% set n = 2 %}{{ n }}"),
    c("scope_static_load_first", "{{ n }}{% for i in [1] %}[{{ n }}]{% endfor %}{% set n = 2 %}"),
    c("scope_static_branch_store", "{% for i in [1] %}[{{ n }}]{% endfor %}{% if true %}"
                                   "{% set n = 2 %}{% else %}{% set n = 3 %}{% endif %}"),
    c("scope_static_macro", "{% macro m() %}[{{ n }}]{% endmacro %}{{ m() }}{% set n = 1 %}"
                            "{{ m() }}"),
    c("scope_static_nested_loops", "{% for i in [1] %}{% for j in [1] %}[{{ n }}]{% endfor %}"
                                   "{% set n = 5 %}{% endfor %}|{% for i in [1] %}{% for j in [1] %}"
                                   "[{{ f }}]{% endfor %}{% set f = 5 %}{% endfor %}{{ f }}"),
    c("scope_static_set_block", "{% set n %}[{{ n }}]{% endset %}{{ n }}|{{ f }}{% set f %}"
                                "[{{ f }}]{% endset %}{{ f }}"),
    c("scope_macro_closure", "{% for i in [1, 2] %}{% macro m() %}{{ i }}{{ loop.index }}"
                             "{% endmacro %}{{ m() }}{% endfor %}{% with w = 3 %}{% macro k() %}"
                             "{{ w }}{% endmacro %}{{ k() }}{% endwith %}"),
    c("err_macro_out_of_scope", "{% for i in [1, 2] %}{% macro m() %}{{ i }}{% endmacro %}"
                                "{% endfor %}{{ m() }}"),
    c("macro_default_refs", "{% macro m(a, b=a, c=z) %}{{ a }}{{ b }}{{ c }}{% endmacro %}"
                            "{% set z = 5 %}{{ m(1) }}{{ m(1, 2, 3) }}"),
    c("macro_in_loop", "{% macro m() %}{% for i in [7, 8] %}{{ loop.index }}{{ i }}{% endfor %}"
                       "{% endmacro %}{% for j in [1] %}{{ m() }}{% endfor %}"),
    c("lit_special_floats", "{{ 1e400 }} {{ -1e400 }} {{ 1e400 - 1e400 }} "
                            "{{ [1e400, -1e400]|tojson }} {{ 1e400 > 1 }}"),
    c("tags_in_strings", "{{ '{{' ~ '}}' }} {{ '%}' }} {{ {'a': {'b': 1}} }} "
                         "{% set x = {'a': {'b': 1}} %}{{ x.a.b }} {{ '{# no #}' }}"),
    c("ws_comment_then_block", "a\n{# c #}\n  {% if true %}x{% endif %}\n  {# d #}  y"),
    c("ws_raw_minus", "a  {%- raw %} r {% endraw -%}  b"),
    c("string_escapes_more", "{{ 'a\\\nb' }}|{{ '\a\b\f\v'|length }}|{{ '\0'|length }}|"
                             "{{ '\177'|tojson }}"),
    c("undefined_filters", "[{{ nothing|upper }}][{{ nothing|join }}][{{ nothing|list }}]"
                           "[{{ nothing|string }}][{{ nothing|first }}][{{ nothing|last }}]"
                           "[{{ nothing|reverse|list }}][{{ nothing|items|list }}][{{ nothing|trim }}]"
                           "[{{ nothing|sort }}][{{ nothing|unique|list }}][{{ nothing|sum }}]"
                           "[{{ nothing|min }}][{{ nothing|map('upper')|list }}][{{ nothing|select|list }}]"
                           "[{{ nothing|replace('a', 'b') }}][{{ nothing|escape }}][{{ nothing|count }}]"),
    c("err_int_of_undefined", "{{ nothing|int }}"),
    c("err_float_of_undefined", "{{ nothing|float }}"),
    c("err_indent_of_undefined", "{{ nothing|indent }}"),
    c("err_round_of_undefined", "{{ nothing|round }}"),
    c("round_int_float", "{{ 3|round(1) }} {{ 7|round(0, 'floor') }} {{ 2.5|round(0, 'ceil') }} "
                         "{{ 1e20|round(2) }} {{ -2.5|round }}"),
    c("join_none_sep", "{{ [1, 2]|join(none) }} {{ ['1', 'x']|map('int')|list }}"),
    c("misc_precedence", "{{ 'a' ~ messages|length }} {{ (messages|last).content }} "
                         "{{ not nothing is defined }} {{ -1 ** 2 }} {{ 'abc' is string and "
                         "'abc'|length > 2 }} {{ none|string|lower }} {{ 10 // 3.0 }} "
                         "{{ -0.0 == 0 }} {{ users[0]['tags'][0] }}"),
    c("op_percent_format", "{{ '[INST] %s [/INST]' % messages[1].content }}|{{ '%d-%05.2f|%-4s|%r' % "
                           "(7, 3.14159, 'ab', 'q') }}|{{ '%(role)s: %(content)s' % messages[0] }}|"
                           "{{ '%x %X %o %#x %+d %e %g %%' % (255, 255, 8, -31, 5, 12345.678, 0.0001) }}|"
                           "{{ '%.2s|%5s|%c%c' % ('abcdef', 'é', 'z', 233) }}|{{ '' % d }}|{{ '%s' % [1, 2] }}|{{ 'x' % [] }}"),
    c("f_format", "{{ '%s, %s!'|format('Hello', 'World') }} {{ '%(a)s-%(b)d'|format(a='x', b=2) }} "
                  "{{ '%.3f'|format(2) }}"),
    c("err_format_too_few", "{{ '%s %s' % (1,) }}"),
    c("err_format_too_many", "{{ '%s' % (1, 2) }}"),
    c("err_in_unhashable", "{{ [1] in {'a': 1} }}"),
    # --- filters
    c("f_trim", "[{{ s|trim }}] [{{ 'xxaxx'|trim('x') }}] [{{ '\\n\\t a \\u3000'|trim }}]"),
    c("f_length", "{{ messages|length }} {{ 'héllo'|length }} {{ d|length }} {{ xs|count }} "
                  "{{ ''|length }}"),
    c("f_case", "{{ s|upper }} {{ s|lower }} {{ 'hello WORLD'|capitalize }} "
                "{{ 'hello world-foo(bar) [x] <y>z'|title }} {{ 'x1y'|title }}"),
    c("f_default", "{{ nothing|default('d') }} {{ ''|default('e') }} {{ ''|default('e', true) }} "
                   "{{ none|default('n') }} {{ none|d('n', true) }} {{ nothing|default }}|"),
    c("f_join", "{{ xs|join(', ') }} {{ xs|join }} {{ messages|join('/', attribute='role') }} "
                "{{ [1, none, 'a']|join('-') }}"),
    c("f_first_last", "{{ xs|first }} {{ xs|last }} {{ 'abc'|first }} {{ 'abc'|last }} "
                      "[{{ []|first }}]"),
    c("f_conversions", "{{ 42|string ~ 'x' }} {{ '42'|int + 1 }} {{ '4.7'|int }} {{ 'x'|int(7) }} "
                       "{{ 3.9|int }} {{ -3.9|int }} {{ '0x1A'|int(0, 16) }} {{ ' 12 '|int }} "
                       "{{ '1_000'|int }} {{ true|int }} {{ '2.5'|float }} {{ 'x'|float }} {{ 3|float }} "
                       "{{ none|string }} {{ [1]|string }}"),
    c("f_list_items", "{{ 'abc'|list }} {{ d|list }} {{ d|items|list }} {{ (1, 2)|list }}"),
    c("f_replace", "{{ 'aaa'|replace('a', 'b') }} {{ 'aaa'|replace('a', 'b', 2) }} "
                   "{{ 'abc'|replace('', '-') }} {{ 1.5|replace('.', ',') }}"),
    c("f_round", "{{ 2.5|round }} {{ 3.5|round }} {{ 3.14159|round(2) }} {{ 2.675|round(2) }} "
                 "{{ 7|round }} {{ 2.5|round(0, 'ceil') }} {{ 2.5|round(0, 'floor') }} "
                 "{{ 1234.5678|round(-2) }} {{ -0.5|round }} {{ 0.125|round(2) }}"),
    c("f_abs_sum_min_max", "{{ -3|abs }} {{ (-2.5)|abs }} {{ xs|sum }} {{ users|sum(attribute='age') }} "
                           "{{ xs|min }} {{ xs|max }} {{ words|min }} {{ words|max }} "
                           "{{ users|max(attribute='age') }} {{ [1.5, 2]|sum(start=10) }}"),
    c("f_select_reject", "{{ messages|selectattr('role', 'equalto', 'user')|list|length }} "
                         "{{ messages|rejectattr('role', 'eq', 'system')|map(attribute='content')|join('|') }} "
                         "{{ [1, 2, 3, 4]|select('odd')|list }} {{ [0, 1, '', none, 'a']|select|list }} "
                         "{{ [1, 2, 3]|reject('divisibleby', 3)|list }} "
                         "{{ users|selectattr('tags')|map(attribute='name')|list }} "
                         "{{ users|selectattr('age', '>', 30)|map(attribute='name')|join(',') }} "
                         "{{ xs|select('in', [1, 3])|list }} {{ none|select|list }} "
                         "{{ false|map('upper')|list }} {{ 0|rejectattr('x')|list }}"),
    c("f_map", "{{ ['a', 'b']|map('upper')|join }} {{ users|map(attribute='tags.0', default='-')|list }} "
               "{{ xs|map('string')|join('+') }} {{ [[1, 2], [3]]|map('length')|list }} "
               "{{ users|map(attribute='name')|map('capitalize')|join(' ') }}"),
    c("f_sort_unique", "{{ words|sort|join }} {{ words|sort(case_sensitive=true)|join }} "
                       "{{ xs|sort(reverse=true)|list }} "
                       "{{ users|sort(attribute='age')|map(attribute='name')|join(',') }} "
                       "{{ words|unique|list }} {{ [1, 2, 1, 3, 2]|unique|list }}"),
    c("f_dictsort", "{{ {'b': 1, 'A': 3, 'c': 2}|dictsort }} {{ {'b': 1, 'A': 3}|dictsort(true) }} "
                    "{{ {'b': 1, 'A': 3, 'c': 2}|dictsort(by='value', reverse=true) }} "
                    "{% for k, v in d|dictsort %}{{ k }}{% endfor %}"),
    c("f_reverse", "{{ 'abc'|reverse }} {{ xs|reverse|list }} {{ 'aé🙂'|reverse }}"),
    c("f_tojson", "{{ messages|tojson }}\n{{ {'a': none, 'b': true, 'c': 1.0, 'd': [1, 2.5e-7], "
                  "'e': 'é\\u0001\\n\"\\\\/'}|tojson }}\n{{ 'x'|tojson }} {{ 1|tojson }} {{ ()|tojson }}"),
    c("f_tojson_options", "{{ d|tojson(indent=2) }}\n{{ {'z': 1, 'a': [], 'm': {}}|tojson(indent=4, "
                          "sort_keys=true) }}\n{{ d|tojson(separators=(',', ':')) }}\n"
                          "{{ 'é🙂\\x7f'|tojson(ensure_ascii=true) }} {{ 'é'|tojson(4) }}\n"
                          "{{ [1, [2, {}]]|tojson(indent='\\t') }} {{ {1: 'int key', 2.5: 'f', "
                          "true: 't', none: 'n'}|tojson }}"),
    c("f_tojson_tools", "{{ tools|tojson(indent=4) }}", tools=TOOLS),
    c("f_indent", "[{{ 'a\\nb\\n\\nc'|indent(2) }}] [{{ 'a\\nb'|indent(first=true) }}] "
                  "[{{ 'a\\n\\nb'|indent('> ', blank=true) }}]"),
    c("f_escape_safe", "{{ '<a href=\"x\">&\\'</a>'|e }} {{ '<b>'|escape }} {{ '<i>'|safe }} "
                       "{{ 5|safe }}"),
    c("f_attr", "{{ d|attr('a') }}|{{ (ns_value|default(namespace(k=3)))|attr('k') }}|"
                "{{ d|attr('items') is callable }}"),
    # --- tests
    c("tests", "{{ messages is iterable }} {{ messages[0] is mapping }} {{ 'x' is string }} "
               "{{ 1 is number }} {{ 1.5 is float }} {{ 1 is integer }} {{ true is integer }} "
               "{{ true is boolean }} {{ none is none }} {{ true is true }} {{ 1 is true }} "
               "{{ false is false }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} "
               "{{ 9 is divisibleby(4) }} {{ 'a' is in 'abc' }} {{ 2 is eq 2 }} {{ 2 is ne 3 }} "
               "{{ 'abc' is lower }} {{ 'ABC' is upper }} {{ range is callable }} "
               "{{ nothing is not defined }} {{ none is sameas none }} {{ [] is sequence }} "
               "{{ {} is sequence }} {{ 1 is sequence }} {{ 'x' is iterable }} {{ 3 is gt 2 }} "
               "{{ 3 is lessthan 2 }} {{ d.c is not none }} {{ 1 is string }} {{ 1.0 is number }}"),
    c("tests_undefined_is", "{{ nothing is iterable }} {{ nothing is sequence }} "
                            "{{ nothing is mapping }} {{ nothing is none }} {{ nothing is string }}"),
    # --- methods
    c("m_strip", "[{{ s.strip() }}] [{{ 'xxaxx'.strip('x') }}] [{{ s.lstrip() }}] [{{ s.rstrip() }}] "
                 "[{{ '\\n\\nhi\\n'.rstrip('\\n') }}]"),
    c("m_split", "{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.split(' ', 1) }} "
                 "{{ 'a,b,c'.rsplit(',', 1) }} {{ ''.split() }} {{ ''.split(',') }} "
                 "{{ '  a b  c '.split(none, 1) }} {{ '  a b  c '.rsplit(none, 1) }} "
                 "{{ 'x<think>y</think>z'.split('</think>')[-1] }}"),
    c("m_affixes", "{{ 'hello'.startswith('he') }} {{ 'hello'.endswith(('x', 'lo')) }} "
                   "{{ 'hello'.startswith('lo') }} {{ 'hello'.removeprefix('he') }} "
                   "{{ 'hello'.removesuffix('x') }}"),
    c("m_case_replace", "{{ 'Hi'.upper() }} {{ 'Hi'.lower() }} {{ 'hello world'.replace('o', '0') }} "
                        "{{ 'abc'.replace('', '-') }} {{ 'aaa'.replace('a', 'b', 1) }} "
                        "{{ \"they're bill's\".title() }} {{ 'hELLO'.capitalize() }} {{ '1st'.title() }}"),
    c("m_find_count_join", "{{ 'a-b'.find('-') }} {{ 'a-b'.find('x') }} {{ 'abcabc'.count('b') }} "
                           "{{ 'éa'.find('a') }} {{ ', '.join(['a', 'b']) }} {{ ''.join('xyz') }} "
                           "{{ 'a\\nb\\r\\nc'.splitlines() }} {{ 'abcb'.rfind('b') }}"),
    c("m_dict", "{{ d.get('a') }} {{ d.get('z', 'def') }} {{ d.get('z') }} {{ d.keys()|list }} "
                "{{ d.values()|list }} {{ d.items()|list }} {{ d.get('c') is none }}"),
    c("m_list", "{{ xs.count(1) }} {{ xs.index(2) }} {{ ['a', 'b'].index('b') }}"),
    c("m_chained", "{{ '<think>\\nr\\n</think>\\n\\nanswer'.split('</think>')[0].rstrip('\\n')"
                   ".split('<think>')[-1].lstrip('\\n') }}"),
    # --- globals
    c("g_range", "{{ range(3)|list }} {{ range(1, 4)|list }} {{ range(10, 0, -3)|list }} "
                 "{{ range(0)|list }} {{ range(5)|length }}"),
    c("g_dict", "{{ dict(a=1, b='x') }} {{ dict(a=1).a }}"),
    c("g_strftime_now", "{{ strftime_now('%Y-%m-%d %H:%M:%S') }} {{ strftime_now('%d %b %Y') }}"),
    c("g_raise_exception", "{% if messages|length > 1 %}{{ raise_exception('Too many: ' ~ "
                           "messages|length) }}{% endif %}"),
    # --- errors jinja2 raises (longctx must raise too)
    c("err_attr_of_undefined", "{{ nothing.attr }}"),
    c("err_item_of_undefined", "{{ nothing['x'] }}"),
    c("err_add_undefined", "{{ nothing + 1 }}"),
    c("err_type_mismatch", "{{ 1 + 'a' }}"),
    c("err_compare_types", "{{ 1 < 'a' }}"),
    c("err_div_zero", "{{ 1 / 0 }}"),
    c("err_mod_zero", "{{ 1 % 0 }}"),
    c("err_call_undefined", "{{ messages[0].content.nosuchmethod() }}"),
    c("err_call_non_callable", "{{ d() }}"),
    c("err_list_append", "{% set x = [] %}{{ x.append(1) }}"),
    c("err_range_too_big", "{{ range(200000)|length }}"),
    c("err_set_attr_non_namespace", "{% set x = {} %}{% set x.a = 1 %}"),
    c("err_unpack", "{% for a, b in [1, 2] %}{% endfor %}"),
    c("err_syntax_if", "{% if %}x{% endif %}"),
    c("err_syntax_unclosed_for", "{% for x in xs %}x"),
    c("err_syntax_unclosed_var", "{{ x "),
    c("err_syntax_unclosed_comment", "{# x "),
    c("err_syntax_unclosed_string", "{{ 'abc }}"),
    c("err_syntax_stray_endif", "x{% endif %}"),
    c("err_syntax_bad_char", "{{ a $ b }}"),
    c("err_syntax_unbalanced", "{{ (1 + 2 }}"),
    c("err_include", "{% include 'other.jinja' %}"),
    c("err_break_outside_loop", "{% break %}"),
    c("err_tojson_undefined", "{{ nothing|tojson }}"),
    c("err_length_of_int", "{{ 5|length }}"),
    c("err_strip_of_none", "{{ d.c.strip() }}"),
    c("err_in_none", "{{ 'a' in none }}"),
    c("err_macro_infinite", "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}"),
    c("err_items_of_list", "{{ xs|items|list }}"),
    c("err_concat_binds_tighter_than_plus", "{{ 1 + 2 ~ 3 }}"),
]
