// longctx convert: rewrites a model in another format (GGUF file or Hugging Face directory),
// optionally converting weight matrices to another dtype and embedding the tokenizer.
#include <cstdio>
#include <fstream>
#include <string>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/progress.h"
#include "formats/gguf_writer.h"
#include "formats/hf.h"
#include "tokenizer/gguf_tokenizer.h"

namespace lc::cli {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void copy_file(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) fail("-z: cannot read '", from, "'");
  const std::string tmp = to + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << in.rdbuf();
    if (!out) fail(to, ": write failed");
  }
  if (std::rename(tmp.c_str(), to.c_str()) != 0) fail(to, ": cannot rename into place");
}

}  // namespace

int cmd_convert(int argc, char** argv) {
  Args a("convert", {"--to", "--dtype", "-z"}, {"--help"});
  std::vector<char*> rest = {argv[0], argv[1]};
  std::vector<std::string> positional;
  for (int i = 2; i < argc; ++i) {
    const std::string s = argv[i];
    if (s.size() > 1 && s[0] == '-') {
      rest.push_back(argv[i]);
      if (s != "--help" && i + 1 < argc) rest.push_back(argv[++i]);
    } else {
      positional.push_back(s);
    }
  }
  a.parse(static_cast<int>(rest.size()), rest.data(), 2);
  if (a.has("--help")) {
    std::fputs(
        "usage: longctx convert IN OUT [--to gguf|hf] [--dtype f32|f16|bf16|q8_0] [-z TOKENIZER]\n"
        "  IN: llama2.c .bin, GGUF file or Hugging Face directory.\n"
        "  --to: output format (default: gguf when OUT ends in .gguf, else hf = a directory\n"
        "        with config.json + model.safetensors). q8_0 is GGUF only.\n"
        "  -z: tokenizer to embed (GGUF: SentencePiece/llama2.c; hf: copied into OUT).\n",
        stdout);
    return 0;
  }
  if (positional.size() != 2) fail("convert: expected IN and OUT (see 'longctx convert --help')");
  const std::string in = positional[0], out = positional[1];
  const std::string to = a.str("--to", ends_with(out, ".gguf") ? "gguf" : "hf");
  if (to != "gguf" && to != "hf") fail("--to: expected gguf or hf, got '", to, "'");
  if (to == "hf" && a.str("--dtype") == "q8_0")
    fail("--dtype q8_0: safetensors holds f32, f16 or bf16 only (use --to gguf)");
  const DType dtype = parse_dtype(a.str("--dtype", "f32"));

  auto model = load_model_file(in);
  if (to == "gguf" && model->config.arch != Arch::Llama)
    fail(out, ": writing the '", arch_name(model->config.arch),
         "' architecture to GGUF is not supported (use --to hf)");
  if (to == "gguf" && model->config.qkv_bias)
    fail(out, ": writing q/k/v biases (Qwen2ForCausalLM) to GGUF is not supported (use --to hf)");
  model->convert_matrices(dtype);
  // Tensors written / total: live on a terminal, a plain line every 10 s otherwise; the "wrote"
  // line below is the summary.
  ProgressOptions po;
  po.final_line = false;
  ProgressReporter progress("convert", "tensors", static_cast<int64_t>(model->tensors.size()), po);
  const TensorWriteProgress on_tensor = [&](int64_t written, int64_t total) {
    progress.update(written, total);
  };
  if (to == "gguf") {
    GgufKv extra;
    if (a.has("-z")) {
      const auto tok = load_tokenizer(a.str("-z"), static_cast<int>(model->config.vocab_size));
      extra = gguf_tokenizer_metadata(*tok);
    }
    permute_rope_rows(*model, ops::RopeStyle::AdjacentPairs);
    write_model_gguf(out, *model, extra, on_tensor);
  } else {
    permute_rope_rows(*model, ops::RopeStyle::RotateHalf);
    write_hf_dir(out, *model, on_tensor);
    if (a.has("-z")) {
      const std::string z = a.str("-z");
      load_tokenizer(z, static_cast<int>(model->config.vocab_size));  // validate first
      std::ifstream f(z, std::ios::binary);
      char c0 = 0;
      f.get(c0);
      // A SentencePiece .model starts with field 1 (0x0A); otherwise a llama2.c tokenizer.bin.
      copy_file(z, out + (c0 == 0x0A ? "/tokenizer.model" : "/tokenizer.bin"));
    }
  }
  progress.finish();
  std::fprintf(stderr, "wrote %s (%s, %s, %.1f MiB of weights)\n", out.c_str(), to.c_str(),
               dtype_name(dtype), static_cast<double>(model->weight_bytes()) / (1 << 20));
  return 0;
}

}  // namespace lc::cli
