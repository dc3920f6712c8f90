#pragma once

namespace lc::cli {
// Each returns the process exit code; errors are thrown as lc::Error and reported by main.
int cmd_run(int argc, char** argv);
int cmd_chat(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_logits(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_synth(int argc, char** argv);
int cmd_convert(int argc, char** argv);
int cmd_ppl(int argc, char** argv);
int cmd_passkey(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_recall(int argc, char** argv);
int cmd_serve(int argc, char** argv);
}  // namespace lc::cli
