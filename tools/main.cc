// longctx: command-line entry point. Each subcommand lives in its own cmd_*.cc; this file only
// dispatches and turns library errors into a one-line message and a non-zero exit.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "commands.h"
#include "core/error.h"

namespace {
void usage() {
  std::fputs(
      "longctx: long-context language-model inference on CPUs\n"
      "\n"
      "usage: longctx COMMAND [flags]   (longctx COMMAND --help for its flags)\n"
      "  run          generate text from a prompt\n"
      "  chat         a multi-turn conversation through the model's chat template\n"
      "  bench        prefill/decode throughput and peak memory\n"
      "  logits       one forward over a sequence; all positions' logits as raw float32\n"
      "  tokenize     a model's tokenizer on text: the ids or their count\n"
      "  synth-model  write a random-weight llama2.c model (benchmarks at real shapes)\n"
      "  convert      rewrite a model as GGUF or a Hugging Face directory (--dtype, -z)\n"
      "  ppl          per-position NLL / perplexity of long documents or a long stream\n"
      "  passkey      passkey retrieval accuracy and key NLL versus prompt length\n"
      "  train        train a small Llama-style or BASED-style model on the CPU\n"
      "  recall       MQAR recall-vs-state sweep: train 2-layer models, accuracy vs state size\n"
      "  serve        an OpenAI-compatible HTTP server with continuous batching\n",
      stderr);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  try {
    if (cmd == "run") return lc::cli::cmd_run(argc, argv);
    if (cmd == "chat") return lc::cli::cmd_chat(argc, argv);
    if (cmd == "bench") return lc::cli::cmd_bench(argc, argv);
    if (cmd == "logits") return lc::cli::cmd_logits(argc, argv);
    if (cmd == "tokenize") return lc::cli::cmd_tokenize(argc, argv);
    if (cmd == "synth-model") return lc::cli::cmd_synth(argc, argv);
    if (cmd == "convert") return lc::cli::cmd_convert(argc, argv);
    if (cmd == "ppl") return lc::cli::cmd_ppl(argc, argv);
    if (cmd == "passkey") return lc::cli::cmd_passkey(argc, argv);
    if (cmd == "train") return lc::cli::cmd_train(argc, argv);
    if (cmd == "recall") return lc::cli::cmd_recall(argc, argv);
    if (cmd == "serve") return lc::cli::cmd_serve(argc, argv);
    std::fprintf(stderr, "longctx: unknown command '%s'\n", cmd.c_str());
    usage();
    return 2;
  } catch (const lc::Error& e) {
    std::fprintf(stderr, "longctx %s: error: %s\n", cmd.c_str(), e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "longctx %s: error: out of memory\n", cmd.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "longctx %s: error: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}
