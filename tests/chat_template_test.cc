// Unit tests of the chat-template interpreter (src/chat/): one group per construct with
// expected strings worked out by hand from jinja2's rules, the errors (one line naming the
// construct and the template line), the limits that keep hostile templates bounded, and the
// template loaders. Parity with jinja2 itself is chat_template_parity_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "chat/chat_format.h"
#include "chat/chat_template_source.h"
#include "chat/template.h"
#include "formats/json.h"
#include "test_util.h"

namespace lc {
namespace {

using jinja::Template;
using jinja::Value;

// Renders src with the variables of a JSON object.
std::string R(const std::string& src, const std::string& vars = "{}",
              const jinja::RenderOptions& opt = {}) {
  return Template::parse(src).render(jinja::value_from_json(parse_json(vars, "vars")), opt);
}

const char* kMsgs =
    R"({"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U1"},
        {"role": "assistant", "content": "A1"}, {"role": "user", "content": "U2"}]})";

TEST(ChatTemplateWhitespace, TrimAndLstripBlocksAsTransformersSetsThem) {
  EXPECT_EQ(R("a\n{% if true %}\nb\n{% endif %}\nc"), "a\nb\nc");  // trim_blocks
  EXPECT_EQ(R("x\n    {% if true %}y{% endif %}"), "x\ny");        // lstrip_blocks
  EXPECT_EQ(R("a  {% if true %}x{% endif %}"), "a  x");            // not at a line start
  EXPECT_EQ(R("a\n    {{ 'v' }}"), "a\n    v");                    // {{ }} is not a block
  EXPECT_EQ(R("{{ 'a' }}\nb"), "a\nb");                            // nor trimmed after
  EXPECT_EQ(R("{% for i in [1, 2] %}\n  {{ i }}\n{% endfor %}"), "  1\n  2\n");
}

TEST(ChatTemplateWhitespace, MinusAndPlusModifiers) {
  EXPECT_EQ(R("a  \n {%- if true -%}  \n x \n  {%- endif -%} \n b"), "axb");
  EXPECT_EQ(R("a\n  {{- 'b' -}}  \n  c"), "abc");
  EXPECT_EQ(R("x\n   {%+ if true %}y{% endif %}"), "x\n   y");  // {%+ keeps the indent
  EXPECT_EQ(R("{% if true +%}\ny{% endif %}"), "\ny");          // +%} keeps the newline
  EXPECT_EQ(R("{{ 5 -1 }}|{{ 5 - 1 -}} |"), "4|4|");            // '-' before }} is the modifier
}

TEST(ChatTemplateWhitespace, CommentsRawNewlines) {
  EXPECT_EQ(R("a\n{# c #}\nb\n  {# i #}\nc {#- t -#} d"), "a\nb\ncd");
  EXPECT_EQ(R("{% raw %}{{ x }}{% endraw %}"), "{{ x }}");
  EXPECT_EQ(R("abc\n"), "abc");      // keep_trailing_newline=False drops one newline
  EXPECT_EQ(R("abc\n\n"), "abc\n");  // ... only one
  EXPECT_EQ(R("a\r\nb\rc"), "a\nb\nc");
}

TEST(ChatTemplateExpr, LiteralsAndPrinting) {
  EXPECT_EQ(R("{{ 'a\\n\\t\\'\\x41\\u00e9' }}"), "a\n\t'A\xC3\xA9");
  EXPECT_EQ(R("{{ 1_000 }} {{ 0x1F }} {{ 1.5e3 }} {{ 1e-7 }} {{ 1e16 }} {{ 0.1 + 0.2 }}"),
            "1000 31 1500.0 1e-07 1e+16 0.30000000000000004");
  EXPECT_EQ(R("{{ true }} {{ none }} {{ [1, 'a', none] }} {{ {'k': (1,)} }} {{ 'x' 'y' }}"),
            "True None [1, 'a', None] {'k': (1,)} xy");
  EXPECT_EQ(R("{{ [\"it's\", 'a\"b'] }}"), "[\"it's\", 'a\"b']");
}

TEST(ChatTemplateExpr, Arithmetic) {
  EXPECT_EQ(R("{{ 7 / 2 }} {{ 4 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }}"),
            "3.5 2.0 3 -4 2 1024");
  EXPECT_EQ(R("{{ 'ab' ~ 1 ~ none }} {{ 'x' * 3 }} {{ [1] + [2] }} {{ true + 1 }}"),
            "ab1None xxx [1, 2] 2");
  EXPECT_EQ(R("{{ 1 < 2 < 3 }} {{ 'a' in 'cat' }} {{ 2 not in [1] }} {{ 1 == 1.0 }}"),
            "True True True True");
  EXPECT_EQ(R("{{ 0 or 'x' }} {{ 1 and 'y' }} {{ not none }} {{ 'y' if false else 'n' }}"),
            "x y True n");
  EXPECT_EQ(R("{{ '[INST] %s [/INST]' % 'hi' }} {{ '%d|%5.2f|%-3s|' % (7, 3.14159, 'a') }} "
              "{{ '%(role)s'|format(role='user') }}"),
            "[INST] hi [/INST] 7| 3.14|a  | user");
}

TEST(ChatTemplateExpr, AccessAndSlices) {
  EXPECT_EQ(R("{{ messages[0].role }} {{ messages[-1]['content'] }} [{{ messages[9] }}]", kMsgs),
            "system U2 []");
  EXPECT_EQ(R("{{ messages[1:]|length }} {{ messages[::-1][0].content }}", kMsgs), "3 U2");
  EXPECT_EQ(R("{{ 'hello'[1:3] }} {{ 'h\xC3\xA9llo'[::-1] }} {{ [1, 2, 3, 4][::2] }}"),
            "el oll\xC3\xA9h [1, 3]");
  EXPECT_EQ(R("[{{ messages[0].missing }}] {{ messages[0].missing is defined }}", kMsgs),
            "[] False");
}

TEST(ChatTemplateStmt, IfForLoopVariables) {
  EXPECT_EQ(R("{% for m in messages %}{{ loop.index }}{{ loop.first }}{{ loop.last }}"
              "{{ loop.length }}{{ loop.revindex }},{% endfor %}",
              kMsgs),
            "1TrueFalse44,2FalseFalse43,3FalseFalse42,4FalseTrue41,");
  EXPECT_EQ(R("{% for m in messages if m.role == 'user' %}{{ loop.index0 }}{{ m.content }}"
              "{% else %}none{% endfor %}",
              kMsgs),
            "0U11U2");
  EXPECT_EQ(R("{% for x in [] %}x{% else %}none{% endfor %}"), "none");
  EXPECT_EQ(R("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}{{ v }}{% endfor %}"), "a1b2");
  EXPECT_EQ(R("{% for i in range(9) %}{% if i == 4 %}{% break %}{% elif i is odd %}{% continue %}"
              "{% endif %}{{ i }}{% endfor %}"),
            "02");
}

TEST(ChatTemplateStmt, SetScopesAndNamespace) {
  // A set inside a loop body is gone after the iteration; namespaces carry state.
  EXPECT_EQ(R("{% set x = 0 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}"),
            "120");
  EXPECT_EQ(R("{% set ns = namespace(n=0) %}{% for i in [1, 2] %}{% set ns.n = ns.n + i %}"
              "{% endfor %}{{ ns.n }}"),
            "3");
  EXPECT_EQ(R("{% if true %}{% set y = 5 %}{% endif %}{{ y }}"), "5");  // if has no scope
  EXPECT_EQ(R("{% set a, b = 1, 2 %}{{ b }}{{ a }}{% set c %}x{{ a }}{% endset %}{{ c }}"), "21x1");
}

// jinja2 fixes each name's scope when it compiles: assigned later at the top level and not
// mentioned before, a context variable is undefined in a loop that runs first.
TEST(ChatTemplateStmt, StaticScopingAndMacroClosures) {
  EXPECT_EQ(R("{% for i in [1] %}[{{ n }}]{% endfor %}{% set n = 2 %}{{ n }}", R"({"n": 7})"),
            "[]2");
  EXPECT_EQ(R("{{ n }}{% for i in [1] %}[{{ n }}]{% endfor %}{% set n = 2 %}", R"({"n": 7})"),
            "7[7]");
  EXPECT_EQ(R("{% for i in [1] %}[{{ n }}]{% endfor %}{% if true %}{% set n = 2 %}{% endif %}",
              R"({"n": 7})"),
            "[7]");  // an assignment inside a branch does not hide the outer value
  EXPECT_EQ(R("{% for i in [1, 2] %}{% macro m() %}{{ i }}{{ loop.index }}{% endmacro %}"
              "{{ m() }}{% endfor %}"),
            "1122");  // a macro sees the scope it was defined in
}

// Filters that give generators in jinja2 give them here: always true, no length, single use.
TEST(ChatTemplateStmt, GeneratorsAreLazyTrueAndSingleUse) {
  EXPECT_EQ(R("{% if [1]|select('even') %}yes{% endif %}"), "yes");
  EXPECT_EQ(R("{% set g = [1, 2, 3]|select('odd') %}{{ g|list }}{{ g|list }}"), "[1, 3][]");
  EXPECT_EQ(R("{% set g = [1, 2, 3]|map('string') %}{{ g|first }}{{ g|join }}"), "123");
  test::expect_error([] { R("{{ [1]|select('odd')|length }}"); }, {"'generator' has no len()"});
  EXPECT_EQ(R("{{ none|items is defined }}"), "True");  // the error would come when iterated
}

TEST(ChatTemplateStmt, MacrosFilterBlocksWith) {
  EXPECT_EQ(R("{% macro g(n, p='!') %}hi {{ n }}{{ p }}{% endmacro %}{{ g('a') }} {{ g(p='?', "
              "n='b') }}"),
            "hi a! hi b?");
  EXPECT_EQ(R("{% filter upper %}ab{% endfilter %}{% with q = 3 %}{{ q }}{% endwith %}[{{ q }}]"),
            "AB3[]");
  EXPECT_EQ(R("{% generation %}g{% endgeneration %}{% print 1 + 1 %}"), "g2");
}

TEST(ChatTemplateFilters, StringsAndSequences) {
  EXPECT_EQ(
      R("[{{ '  a b '|trim }}] {{ 'ab'|upper }} {{ 'hELLO'|capitalize }} {{ 'a-b c'|title }}"),
      "[a b] AB Hello A-B C");
  EXPECT_EQ(R("{{ [3, 1, 2]|join(',') }} {{ [3, 1, 2]|sort|first }} {{ [3, 1, 2]|last }} "
              "{{ 'abc'|length }} {{ 'aaa'|replace('a', 'b', 2) }}"),
            "3,1,2 1 2 3 bba");
  EXPECT_EQ(
      R("{{ messages|selectattr('role', 'equalto', 'user')|map(attribute='content')|"
        "join('+') }} {{ messages|rejectattr('role', 'in', ['user', 'system'])|list|length }}",
        kMsgs),
      "U1+U2 1");
  EXPECT_EQ(R("{{ none|default('d') }} {{ nothing|default('d') }} {{ ''|default('e', true) }}"),
            "None d e");
  EXPECT_EQ(R("{{ '42'|int + 1 }} {{ 2.5|round }} {{ 2.675|round(2) }} {{ 1|string ~ 2 }}"),
            "43 2.0 2.67 12");
}

TEST(ChatTemplateFilters, TojsonIsPythonJsonDumps) {
  EXPECT_EQ(R(R"({{ {'a': [1, 2.0, none], 'b': 'é"\n'}|tojson }})"),
            "{\"a\": [1, 2.0, null], \"b\": \"\xC3\xA9\\\"\\n\"}");
  EXPECT_EQ(R("{{ {'a': [1]}|tojson(indent=2) }}"), "{\n  \"a\": [\n    1\n  ]\n}");
  EXPECT_EQ(R("{{ {'b': 1, 'a': 2}|tojson(separators=(',', ':'), sort_keys=true) }}"),
            "{\"a\":2,\"b\":1}");
  EXPECT_EQ(R("{{ 'é'|tojson(ensure_ascii=true) }}"), "\"\\u00e9\"");
}

TEST(ChatTemplateTestsAndMethods, Basics) {
  EXPECT_EQ(R("{{ x is defined }} {{ none is none }} {{ 'a' is string }} {{ {} is mapping }} "
              "{{ [] is iterable }} {{ 1 is number }} {{ [] is sequence }} {{ true is true }} "
              "{{ 6 is divisibleby 3 }} {{ x is not defined }}"),
            "False True True True True True True True True True");
  EXPECT_EQ(R("{{ ' a '.strip() }}|{{ 'a,b'.split(',') }}|{{ 'ab'.startswith('a') }}|"
              "{{ 'ab'.endswith(('x', 'b')) }}|{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}|"
              "{{ 'x</think>y'.split('</think>')[-1] }}"),
            "a|['a', 'b']|True|True|ABab|y");
  EXPECT_EQ(R("{{ d.get('a') }} {{ d.get('z', 0) }} {{ d.keys()|list }} {{ d.values()|list }}",
              R"({"d": {"a": 1}})"),
            "1 0 ['a'] [1]");
}

// One-line errors that name the construct and the template line.
TEST(ChatTemplateErrors, UnsupportedConstructsNameTheLine) {
  test::expect_error([] { Template::parse("a\n\n{{ x|wordwrap }}"); },
                     {"chat template line 3: unsupported filter 'wordwrap'"});
  test::expect_error([] { Template::parse("{% include 'x' %}"); },
                     {"chat template line 1: unsupported statement 'include'"});
  test::expect_error([] { Template::parse("\n{% if x is escaped %}{% endif %}"); },
                     {"chat template line 2: unsupported test 'escaped'"});
  test::expect_error([] { Template::parse("{% for x in y recursive %}{% endfor %}"); },
                     {"line 1", "recursive"});
  test::expect_error([] { R("{{ 'a'.zfill(3) }}"); }, {"line 1", "unsupported method 'str.zfill'"});
  test::expect_error([] { R("{% set x = [] %}\n{{ x.append(1) }}"); }, {"line 2", "append"});
  test::expect_error([] { R("{{ m(*args) }}"); }, {"line 1", "unpacking"});
}

TEST(ChatTemplateErrors, SyntaxAndRuntime) {
  test::expect_error([] { Template::parse("{% for x in y %}\nx"); },
                     {"chat template line 2", "unexpected end of template", "'endfor'"});
  test::expect_error([] { Template::parse("{{ 'abc }}"); }, {"line 1", "unterminated string"});
  test::expect_error([] { Template::parse("{# x"); }, {"line 1", "comment"});
  test::expect_error([] { Template::parse("x\n{% endif %}"); }, {"line 2", "unexpected 'endif'"});
  test::expect_error([] { Template::parse("{{ (1 + 2 }}"); }, {"line 1", "unexpected '}'"});
  test::expect_error([] { Template::parse("{{ a $ b }}"); }, {"unexpected character '$'"});
  test::expect_error([] { R("\n\n{{ nothing.attr }}"); },
                     {"chat template line 3: 'nothing' is undefined"});
  test::expect_error([] { R("{{ 1 + 'a' }}"); }, {"unsupported operand type(s) for +"});
  test::expect_error([] { R("{{ 1 // 0 }}"); }, {"division by zero"});
  test::expect_error(
      [] {
        R("{% if true %}\n  {{ raise_exception('Roles must alternate\\n!') }}"
          "{% endif %}");
      },
      {"chat template line 2: raise_exception: Roles must alternate !"});
  test::expect_error([] { R("{{ 9223372036854775807 + 1 }}"); }, {"integer overflow"});
}

// Hostile templates end in an error, never a crash or a hang.
TEST(ChatTemplateLimits, RecursionNestingOutputAndSteps) {
  test::expect_error([] { R("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}"); },
                     {"nested deeper than"});
  test::expect_error(
      [] {
        Template::parse("{{ " + std::string(2000, '(') + "1" + std::string(2000, ')') + " }}");
      },
      {"nesting deeper than"});
  std::string chain = "{{ 1";
  for (int i = 0; i < 20000; ++i) chain += " + 1";
  test::expect_error([&] { Template::parse(chain + " }}"); }, {"nesting deeper than"});
  std::string elifs = "{% if false %}";
  for (int i = 0; i < 2000; ++i) elifs += "{% elif false %}";
  test::expect_error([&] { Template::parse(elifs + "{% endif %}"); }, {"nesting deeper than"});
  jinja::RenderOptions small;
  small.max_steps = 100000;
  small.max_output_bytes = 1 << 20;
  test::expect_error(
      [&] {
        R("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "{}",
          small);
      },
      {"steps"});
  test::expect_error(
      [&] { R("{% for i in range(1000) %}{{ 'x' * 10000 }}{% endfor %}", "{}", small); },
      {"output longer than"});
  test::expect_error(
      [&] {
        R("{% set ns = namespace(s='x') %}{% for i in range(64) %}"
          "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
          "{}", small);
      },
      {"longer than"});
  test::expect_error(
      [] {
        R("{% set ns = namespace(v=[]) %}{% for i in range(500) %}"
          "{% set ns.v = [ns.v] %}{% endfor %}{{ ns.v }}");
      },
      {"nested deeper than 128"});
  test::expect_error([] { R("{% set ns = namespace() %}{% set ns.me = ns %}"); },
                     {"namespace attribute holding a namespace"});
  test::expect_error([] { R("{{ range(100001)|length }}"); }, {"range too big"});
  test::expect_error([] { R("{{ 'x' * 9000000000000000000 }}"); }, {"longer than"});
}

TEST(ChatTemplateFormat, RenderChatPassesTransformersVariables) {
  ChatRenderOptions opt;
  opt.bos_token = "<s>";
  opt.variables = {{"date_string", Value::string("1 Jan")},
                   {"bos_token", Value::string("<B>")},
                   {"thinking", Value::boolean(false)}};
  const std::string src =
      "{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}"
      "{{ tools is none }}{{ documents is defined }}{{ date_string }}"
      "{% if thinking is false %}!{% endif %}{% if add_generation_prompt %}>{% endif %}";
  EXPECT_EQ(render_chat(src, {{"user", "hi"}, {"assistant", "yo"}}, opt),
            "<B>[user:hi][assistant:yo]TrueTrue1 Jan!>");
  opt.add_generation_prompt = false;
  const Template t = Template::parse(src);  // parsed once, rendered per turn
  EXPECT_EQ(render_chat(t, {{"user", "a"}}, opt), "<B>[user:a]TrueTrue1 Jan!");
  EXPECT_EQ(render_chat(t, {{"user", "a"}, {"user", "b"}}, opt),
            "<B>[user:a][user:b]TrueTrue1 Jan!");
}

TEST(ChatTemplateSource, TokenizerConfigForms) {
  auto s = chat_template_from_tokenizer_config(
      R"({"chat_template": "{{ x }}", "bos_token": "<s>",
          "eos_token": {"__type": "AddedToken", "content": "</s>"}})",
      "tc.json");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->source, "{{ x }}");
  EXPECT_EQ(s->bos_token, "<s>");
  EXPECT_EQ(s->eos_token, "</s>");
  s = chat_template_from_tokenizer_config(
      R"({"chat_template": [{"name": "tool_use", "template": "T"},
                            {"name": "default", "template": "D"}]})",
      "tc.json");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->source, "D");
  EXPECT_FALSE(chat_template_from_tokenizer_config(R"({"bos_token": null})", "tc.json"));
  test::expect_error(
      [] {
        chat_template_from_tokenizer_config(
            R"({"chat_template": [{"name": "a", "template": "A"}]})", "tc.json");
      },
      {"tc.json", "default"});
  test::expect_error(
      [] { chat_template_from_tokenizer_config(R"({"chat_template": 3})", "tc.json"); },
      {"tc.json", "chat_template"});
}

TEST(ChatTemplateSource, HfDirectoryPrefersChatTemplateJinja) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("longctx_chat_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "tokenizer_config.json") << R"({"chat_template": "old", "eos_token": "E"})";
  auto s = load_chat_template(dir.string());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->source, "old");
  std::ofstream(dir / "chat_template.jinja") << "new";
  s = load_chat_template(dir.string());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->source, "new");
  EXPECT_EQ(s->eos_token, "E");
  fs::remove_all(dir);
  EXPECT_FALSE(load_chat_template(dir.string()).has_value());
}

TEST(ChatTemplateSource, GgufMetadata) {
  GgufFile g;
  g.path = "m.gguf";
  EXPECT_FALSE(chat_template_from_gguf(g).has_value());
  GgufValue t;
  t.type = kGgufString;
  t.str = "{{ bos_token }}";
  g.kv["tokenizer.chat_template"] = t;
  GgufValue tokens;
  tokens.type = kGgufArray;
  tokens.elem_type = kGgufString;
  tokens.strs = {"<unk>", "<s>", "</s>"};
  g.kv["tokenizer.ggml.tokens"] = tokens;
  GgufValue id;
  id.type = kGgufU32;
  id.i = 1;
  g.kv["tokenizer.ggml.bos_token_id"] = id;
  id.i = 2;
  g.kv["tokenizer.ggml.eos_token_id"] = id;
  const auto s = chat_template_from_gguf(g);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->source, "{{ bos_token }}");
  EXPECT_EQ(s->bos_token, "<s>");
  EXPECT_EQ(s->eos_token, "</s>");
  EXPECT_EQ(s->origin, "m.gguf: tokenizer.chat_template");
}

TEST(ChatTemplateValue, PythonFloatRepr) {
  EXPECT_EQ(jinja::float_repr(1.0), "1.0");
  EXPECT_EQ(jinja::float_repr(0.1), "0.1");
  EXPECT_EQ(jinja::float_repr(1e16), "1e+16");
  EXPECT_EQ(jinja::float_repr(1e15), "1000000000000000.0");
  EXPECT_EQ(jinja::float_repr(1.5e-5), "1.5e-05");
  EXPECT_EQ(jinja::float_repr(0.0001), "0.0001");
  EXPECT_EQ(jinja::float_repr(-2.5e300), "-2.5e+300");
  EXPECT_EQ(jinja::float_repr(123.456), "123.456");
}

}  // namespace
}  // namespace lc
