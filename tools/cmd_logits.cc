// longctx logits: one forward over a sequence; all positions' logits as raw little-endian f32,
// row-major [n_tokens, vocab], for parity checks against other implementations.
#include <cstdio>
#include <string>
#include <vector>

#include "attention_flags.h"
#include "commands.h"
#include "common.h"
#include "core/aligned.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/parse.h"
#include "model/registry.h"
#include "runtime/session.h"

namespace lc::cli {

int cmd_logits(int argc, char** argv) {
  std::vector<std::string> flags = {"-m",    "-z", "-p",    "--tokens",
                                    "--out", "-t", "--ctx", "--dtype"};
  for (const auto& f : attention_value_flags()) flags.push_back(f);
  Args a("logits", flags, {"--help"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(
        "usage: longctx logits -m MODEL [-z TOKENIZER] (-p TEXT | --tokens ID,ID,...)\n"
        "                      [--out FILE] [-t THREADS] [--ctx N] [--dtype D] [attention flags]\n"
        "  -p TEXT is tokenized (BOS first when the tokenizer adds one); --tokens is used as "
        "given.\n"
        "  Writes [n_tokens, vocab] float32 to --out (default: stdout).\n",
        stdout);
    std::fputs(attention_flags_help().c_str(), stdout);
    return 0;
  }
  if (a.has("-p") == a.has("--tokens")) fail("logits: give exactly one of -p or --tokens");
  SessionOptions so;
  so.n_threads = threads_flag(a);
  so.ctx = a.integer("--ctx", 0, 1, 1 << 26);
  so.attn = parse_attention(a, /*allow_many=*/false).front();
  std::vector<int64_t> ids;
  if (a.has("--tokens")) ids = parse_int_list("--tokens", a.str("--tokens"), 0, INT32_MAX);

  auto file = load_model(a);
  auto model = make_model(*file);
  refuse_attention_flags(a, *model);
  const int64_t vocab = model->vocab_size();
  std::vector<int> tokens;
  if (a.has("-p")) {
    const auto tok = load_tokenizer_for(a, *file);
    tokens = tok->encode(a.str("-p"), tok->adds_bos());
  } else {
    for (int64_t id : ids) {
      if (id >= vocab) fail("--tokens: id ", id, " is out of range [0, ", vocab, ")");
      tokens.push_back(static_cast<int>(id));
    }
  }
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (so.ctx == 0 && n > model->config().ctx_len) so.ctx = n;  // a parity check may exceed it
  Session session(*model, so);
  AlignedBuffer<float> logits(static_cast<size_t>(n * vocab));
  session.all_logits(tokens.data(), n, logits.data());

  std::string out = a.str("--out");
  if (out.empty()) {
    if (std::fwrite(logits.data(), sizeof(float), logits.size(), stdout) != logits.size())
      fail("logits: write to stdout failed");
    return 0;
  }
  write_file_atomic("--out", out, {{logits.data(), logits.bytes()}});
  std::fprintf(stderr, "wrote %lld x %lld logits to %s\n", static_cast<long long>(n),
               static_cast<long long>(vocab), out.c_str());
  return 0;
}

}  // namespace lc::cli
