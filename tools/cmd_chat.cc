// longctx chat: an interactive multi-turn conversation through the model's chat template.
// Reads one user message per line from stdin; replies stream to stdout.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "attention_flags.h"
#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/timer.h"
#include "model/registry.h"
#include "runtime/chat_session.h"
#include "runtime/session.h"

namespace lc::cli {

namespace {

const char* kHelp =
    "usage: longctx chat -m MODEL [-z TOKENIZER] [--system TEXT] [--template FILE] [-n N]\n"
    "                    [--temp T] [--top-k K] [--top-p P] [--seed S] [-t THREADS] [--ctx N]\n"
    "                    [--dtype D] [--verbose] [attention flags]\n"
    "  One user message per line on stdin; each reply streams to stdout, followed by a newline.\n"
    "  /reset forgets the conversation, /exit (or end of input) quits.\n"
    "  With --attn lambda or streaming the conversation never runs out of context (the cache\n"
    "  keeps the start of the conversation and the recent turns, in constant memory); with full\n"
    "  (the default) it stops at --ctx.\n"
    "  --system TEXT   system message for every conversation\n"
    "  --template FILE a Jinja chat template instead of the model's own\n"
    "  -n N            most tokens per reply (default 512)\n"
    "  --temp T        sampling temperature, 0 = greedy (default 0.7)\n"
    "  --verbose       per turn on stderr: tokens, tokens/s, context, cache and memory\n";

double rate(int64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0.0; }

void print_turn(int64_t n, const ChatTurn& t, const ChatSession& chat, const Session& s) {
  std::fprintf(stderr,
               "[turn %lld: fed %lld tokens (%.0f tok/s), reply %lld tokens (%.1f tok/s)%s, "
               "context %lld tokens, cache %.1f MiB, RSS %.1f MiB, peak %.1f MiB]\n",
               static_cast<long long>(n), static_cast<long long>(t.fed_tokens),
               rate(t.fed_tokens, t.prefill_seconds), static_cast<long long>(t.reply_tokens),
               rate(t.reply_tokens, t.decode_seconds), t.refed ? ", conversation re-fed" : "",
               static_cast<long long>(chat.context_tokens()),
               static_cast<double>(s.state_bytes()) / (1 << 20),
               static_cast<double>(current_rss_bytes()) / (1 << 20),
               static_cast<double>(peak_rss_bytes()) / (1 << 20));
}

}  // namespace

int cmd_chat(int argc, char** argv) {
  std::vector<std::string> flags = {"-m",     "-z", "-n",    "--temp",  "--top-k",  "--top-p",
                                    "--seed", "-t", "--ctx", "--dtype", "--system", "--template"};
  for (const auto& f : attention_value_flags()) flags.push_back(f);
  Args a("chat", flags, {"--verbose", "--help"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(kHelp, stdout);
    std::fputs(attention_flags_help().c_str(), stdout);
    return 0;
  }
  ChatOptions co;
  co.system = a.str("--system");
  co.max_reply_tokens = a.integer("-n", 512, 1, 1'000'000'000);
  co.sampler.temperature = static_cast<float>(a.number("--temp", 0.7, 0.0, 1e4));
  co.sampler.top_k = a.integer("--top-k", 0, 0, 1 << 30);
  co.sampler.top_p = static_cast<float>(a.number("--top-p", 1.0, 1e-9, 1.0));
  co.sampler.seed = static_cast<uint64_t>(a.integer("--seed", 42, 0, INT64_MAX));
  SessionOptions so;
  so.n_threads = threads_flag(a);
  so.ctx = a.integer("--ctx", 0, 1, 1 << 26);
  so.attn = parse_attention(a, /*allow_many=*/false).front();

  auto file = load_model(a);
  const ChatTemplateSource tmpl = chat_template_for(a, *file);
  auto model = make_model(*file);
  refuse_attention_flags(a, *model);
  auto tok = load_tokenizer_for(a, *file);
  Session session(*model, so);
  ChatSession chat(session, *tok, tmpl, co);
  const bool tty = ::isatty(STDIN_FILENO);
  const bool verbose = a.has("--verbose");
  if (verbose)
    std::fprintf(
        stderr, "chat: %s, attention %s, context %s, template from %s\n", file->path.c_str(),
        session.label().c_str(),
        session.capacity() == INT64_MAX ? "unbounded" : std::to_string(session.capacity()).c_str(),
        tmpl.origin.c_str());
  std::string line;
  int64_t turns = 0;
  while (true) {
    if (tty) std::fputs("> ", stderr);
    if (!std::getline(std::cin, line)) break;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      chat.reset();
      if (tty) std::fputs("(conversation reset)\n", stderr);
      continue;
    }
    if (line.empty()) continue;
    const ChatTurn t = chat.turn(line, [](const std::string& piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    });
    std::fputc('\n', stdout);
    std::fflush(stdout);
    ++turns;
    if (verbose) print_turn(turns, t, chat, session);
    if (t.context_full) {
      std::fprintf(stderr,
                   "longctx chat: context full: the conversation needs more than the %lld tokens "
                   "of the cache (--ctx); /reset starts over, --attn lambda or streaming never "
                   "runs out\n",
                   static_cast<long long>(session.capacity()));
      if (!tty) return 1;
    }
  }
  return 0;
}

}  // namespace lc::cli
