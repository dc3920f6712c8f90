// longctx run: generate text, streaming it to stdout.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "attention_flags.h"
#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/parse.h"
#include "model/registry.h"
#include "runtime/batch_session.h"
#include "runtime/chat_session.h"
#include "runtime/generate.h"
#include "runtime/session.h"

namespace lc::cli {

namespace {
const char* kHelp =
    "usage: longctx run -m MODEL [-z TOKENIZER] [-p PROMPT | -f PROMPT_FILE | --tokens IDS]\n"
    "                   [-n N] [--temp T] [--top-k K] [--top-p P] [--seed S] [-t THREADS]\n"
    "                   [--ctx N] [--dtype D] [--ids] [--special] [--verbose] [attention flags]\n"
    "                   [--chat [--system TEXT] [--template FILE]]\n"
    "  --chat      the prompt is one user message: rendered through the model's chat template\n"
    "              (or --template FILE), the reply printed (one turn of `longctx chat`)\n"
    "  --tokens IDS  the prompt as token ids (comma-separated), used as given (no BOS added)\n"
    "  --ids       print the generated token ids (one comma-separated line) instead of text\n"
    "  --special   special tokens written in the prompt (<|im_start|>, <s>, ...) become those\n"
    "              tokens, and generated control tokens print their text\n"
    "  -n N        tokens to generate (default 256)\n"
    "  --temp T    sampling temperature, 0 = greedy (default 1.0)\n"
    "  --top-k K   sample among the K most likely tokens (0 = off)\n"
    "  --top-p P   nucleus sampling mass in (0, 1] (1 = off)\n"
    "  --ctx N     context (KV cache) size for --attn full; default the model's trained context\n"
    "              (window, streaming and lambda keep a bounded cache and have no limit)\n"
    "  --dtype D   convert weight matrices at load, e.g. f32 (default: as stored)\n"
    "  --verbose   print prompt and generation tokens/s to stderr\n"
    "  --batch B   B independent sequences from the prompt (sampler seeds S, S+1, ...), each\n"
    "              decode step one forward over all of them; printed one after another\n";

double per_second(double n, double seconds) { return seconds > 0 ? n / seconds : 0.0; }

// One sequence: "generation: N tokens, X tokens/s" (bench/compare_runc.py parses it).
void print_stats(const GenerateStats& st, int64_t batch) {
  if (batch == 1) {
    std::fprintf(stderr, "prompt: %lld tokens, %.1f tokens/s\n",
                 static_cast<long long>(st.n_prompt),
                 per_second(static_cast<double>(st.n_prompt), st.prefill_seconds));
    std::fprintf(stderr, "generation: %lld tokens, %.1f tokens/s\n",
                 static_cast<long long>(st.n_generated),
                 per_second(static_cast<double>(st.n_generated), st.decode_seconds));
    return;
  }
  std::fprintf(stderr, "prompt: %lld tokens x %lld sequences, %.1f tokens/s\n",
               static_cast<long long>(st.n_prompt), static_cast<long long>(batch),
               per_second(static_cast<double>(st.n_prompt * batch), st.prefill_seconds));
  std::fprintf(stderr, "generation: %lld tokens over %lld sequences, %.1f tokens/s in total\n",
               static_cast<long long>(st.n_generated), static_cast<long long>(batch),
               per_second(static_cast<double>(st.n_generated), st.decode_seconds));
}

// --batch: every sequence's prompt + continuation, one after another.
GenerateStats run_batch(const Model& model, const SessionOptions& so, int64_t batch,
                        const Tokenizer& tok, const std::string& prompt,
                        const std::vector<int>& tokens, const GenerateOptions& g) {
  BatchSession batched(model, so, batch);
  std::vector<std::string> texts;
  const GenerateStats st = generate_batch(batched, tok, tokens, g, &texts);
  for (size_t s = 0; s < texts.size(); ++s) {
    std::printf("--- sequence %zu ---\n", s);
    std::fwrite(prompt.data(), 1, prompt.size(), stdout);
    std::fwrite(texts[s].data(), 1, texts[s].size(), stdout);
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);
  return st;
}

// The prompt is echoed as given, then the continuation is streamed after it (or, with ids,
// only the generated ids are printed, on one line).
GenerateStats run_one(const Model& model, const SessionOptions& so, const Tokenizer& tok,
                      const std::string& prompt, const std::vector<int>& tokens, GenerateOptions g,
                      bool ids) {
  Session session(model, so);
  if (static_cast<int64_t>(tokens.size()) > session.capacity())
    fail("the prompt is ", tokens.size(), " tokens, longer than the context of ",
         session.capacity(), " tokens (raise --ctx)");
  if (ids) {
    int64_t n = 0;
    g.on_token = [&](int id) { std::printf("%s%d", n++ ? "," : "", id); };
    const GenerateStats st = generate(session, tok, tokens, g, [](const std::string&) {});
    std::fputc('\n', stdout);
    std::fflush(stdout);
    return st;
  }
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  const GenerateStats st = generate(session, tok, tokens, g, [](const std::string& piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  });
  std::fputc('\n', stdout);
  std::fflush(stdout);
  return st;
}

// --chat: one user turn through the chat template; only the reply is printed.
int run_chat_turn(const Args& a, const ModelFile& file, const Model& model,
                  const SessionOptions& so, const Tokenizer& tok, const std::string& prompt,
                  const GenerateOptions& g) {
  if (prompt.empty()) fail("--chat: the message is empty: give -p TEXT or -f FILE");
  const ChatTemplateSource tmpl = chat_template_for(a, file);
  Session session(model, so);
  ChatOptions co;
  co.system = a.str("--system");
  co.max_reply_tokens = std::max<int64_t>(g.max_new_tokens, 1);
  co.sampler = g.sampler;
  ChatSession chat(session, tok, tmpl, co);
  const ChatTurn t = chat.turn(prompt, [](const std::string& piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  });
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (t.context_full)
    fail("the conversation does not fit the context of ", session.capacity(),
         " tokens (raise --ctx, or use --attn lambda)");
  if (a.has("--verbose")) {
    std::fprintf(stderr, "prompt: %lld tokens, %.1f tokens/s\n",
                 static_cast<long long>(t.fed_tokens),
                 per_second(static_cast<double>(t.fed_tokens), t.prefill_seconds));
    std::fprintf(stderr, "generation: %lld tokens, %.1f tokens/s%s\n",
                 static_cast<long long>(t.reply_tokens),
                 per_second(static_cast<double>(t.reply_tokens), t.decode_seconds),
                 t.ended ? "" : " (no end-of-turn token: -n reached)");
  }
  return 0;
}

}  // namespace

int cmd_run(int argc, char** argv) {
  std::vector<std::string> flags = {
      "-m",     "-z", "-p",    "-f",      "-n",      "--temp",   "--top-k",  "--top-p",
      "--seed", "-t", "--ctx", "--dtype", "--batch", "--tokens", "--system", "--template"};
  for (const auto& f : attention_value_flags()) flags.push_back(f);
  Args a("run", flags, {"--verbose", "--ids", "--special", "--chat", "--help"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(kHelp, stdout);
    std::fputs(attention_flags_help().c_str(), stdout);
    return 0;
  }
  if (a.has("-p") + a.has("-f") + a.has("--tokens") > 1)
    fail("-p, -f and --tokens are mutually exclusive (give the prompt one way)");
  if (a.has("--ids") && a.has("--batch")) fail("--ids prints one sequence; drop --batch");
  if (a.has("--chat") && (a.has("--tokens") || a.has("--batch") || a.has("--ids")))
    fail("--chat takes a text prompt (-p or -f) and prints one reply; drop --tokens/--batch/--ids");
  if (!a.has("--chat") && (a.has("--system") || a.has("--template")))
    fail("--system and --template apply to --chat only");
  const std::vector<int64_t> prompt_ids =
      a.has("--tokens") ? parse_int_list("--tokens", a.str("--tokens"), 0, INT32_MAX)
                        : std::vector<int64_t>{};
  // Validate every flag before the (possibly slow) model load.
  GenerateOptions g;
  g.max_new_tokens = a.integer("-n", 256, 0, 1'000'000'000);
  g.sampler.temperature = static_cast<float>(a.number("--temp", 1.0, 0.0, 1e4));
  g.sampler.top_k = a.integer("--top-k", 0, 0, 1 << 30);
  g.sampler.top_p = static_cast<float>(a.number("--top-p", 1.0, 1e-9, 1.0));
  g.sampler.seed = static_cast<uint64_t>(a.integer("--seed", 42, 0, INT64_MAX));
  g.special = a.has("--special");
  SessionOptions so;
  so.n_threads = threads_flag(a);
  so.ctx = a.integer("--ctx", 0, 1, 1 << 26);
  so.attn = parse_attention(a, /*allow_many=*/false).front();
  const std::string prompt = a.has("-f") ? read_text_file("-f", a.str("-f")) : a.str("-p");
  const int64_t batch = a.integer("--batch", 1, 1, 1 << 16);

  auto file = load_model(a);
  auto model = make_model(*file);
  refuse_attention_flags(a, *model);
  auto tok = load_tokenizer_for(a, *file);
  if (a.has("--verbose")) {
    const ModelConfig& c = model->config();
    std::fprintf(stderr, "model: arch %s, %lld layers, d_model %lld, trained context %lld%s%s%s\n",
                 arch_name(c.arch), static_cast<long long>(c.n_layers),
                 static_cast<long long>(c.d_model), static_cast<long long>(c.ctx_len),
                 c.ctx_len_source.empty() ? "" : " (", c.ctx_len_source.c_str(),
                 c.ctx_len_source.empty() ? "" : ")");
    const auto local = std::count(c.local_layers.begin(), c.local_layers.end(), true);
    if (local > 0)  // Gemma 3: the policy applies to the global layers only
      std::fprintf(stderr,
                   "layers: %lld local (window %lld, kept whatever --attn says), %lld global\n",
                   static_cast<long long>(local), static_cast<long long>(c.sliding_window),
                   static_cast<long long>(c.n_layers - local));
  }
  if (a.has("--chat")) return run_chat_turn(a, *file, *model, so, *tok, prompt, g);
  std::vector<int> tokens;
  if (a.has("--tokens")) {
    for (int64_t id : prompt_ids) {
      if (id >= model->vocab_size())
        fail("--tokens: id ", id, " is out of range [0, ", model->vocab_size(), ")");
      tokens.push_back(static_cast<int>(id));
    }
  } else {
    // A prompt is continued, so no EOS even where the file appends one to whole sequences.
    EncodeOptions o;
    o.add_bos = tok->adds_bos();
    o.parse_special = a.has("--special");
    tokens = tok->encode(prompt, o);
  }
  if (tokens.empty()) fail("the prompt is empty: give -p TEXT, -f FILE or --tokens IDS");
  const GenerateStats st = a.has("--batch")
                               ? run_batch(*model, so, batch, *tok, prompt, tokens, g)
                               : run_one(*model, so, *tok, prompt, tokens, g, a.has("--ids"));
  if (st.hit_context_limit)
    std::fprintf(stderr, "longctx run: stopped at the context limit of %lld tokens\n",
                 static_cast<long long>(st.context_limit));
  if (a.has("--verbose")) print_stats(st, a.has("--batch") ? batch : 1);
  return 0;
}

}  // namespace lc::cli
