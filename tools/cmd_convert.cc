// longctx convert: rewrites a model in another format (GGUF file or Hugging Face directory),
// optionally converting weight matrices to another dtype or quantized type (a llama.cpp mix
// included, formats/quant_recipe.h) and embedding the tokenizer.
#include <cstdio>
#include <fstream>
#include <string>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/mmap.h"
#include "core/progress.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "formats/hf.h"
#include "formats/quant_recipe.h"
#include "tokenizer/gguf_tokenizer.h"

namespace lc::cli {

namespace {

const char* kHelp =
    "usage: longctx convert IN OUT [--to gguf|hf] [--dtype TYPE] [-z TOKENIZER]\n"
    "  IN: llama2.c .bin, GGUF file or Hugging Face directory.\n"
    "  --to: output format (default: gguf when OUT ends in .gguf, else hf = a directory\n"
    "        with config.json + model.safetensors).\n"
    "  --dtype: f32 (default), f16, bf16 (gguf and hf); gguf only: q8_0, q4_0, q4_1, q5_0,\n"
    "        q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs (every matrix in that type),\n"
    "        q4_k_m, q5_k_m (llama.cpp's mixes: Q6_K output and, in some layers, attn_v and\n"
    "        ffn_down). Norms stay f32; a matrix whose rows do not fit the type's blocks\n"
    "        falls back as llama.cpp does (q4_k -> q5_0, q5_k -> q5_1, q6_k -> q8_0, q2_k/q3_k\n"
    "        -> q4_0, iq4_xs -> iq4_nl, else f16). Quantized inputs are dequantized first.\n"
    "  -z: tokenizer to embed (GGUF: SentencePiece/llama2.c; hf: copied into OUT). A GGUF IN\n"
    "        keeps all its metadata (tokenizer, chat template, ...) unless -z replaces the\n"
    "        tokenizer.\n";

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

// The metadata a GGUF input carries into the output (nothing for other formats).
GgufKv gguf_input_metadata(const std::string& in, bool keep_tokenizer) {
  if (is_directory(in)) return {};
  MappedFile f(in);
  if (!is_gguf(f.data(), f.size())) return {};
  return gguf_carried_metadata(parse_gguf(f.data(), f.size(), in), keep_tokenizer);
}

// "wrote OUT (gguf, q4_k_m, 83.5 MiB of weights; tensors: 61 f32, 120 q5_0, ...)".
void print_summary(const std::string& out, const std::string& to, const char* dtype,
                   const ModelFile& m, const std::vector<DType>& dtypes) {
  int64_t count[kDTypeCount] = {};
  double bytes = 0;
  for (size_t i = 0; i < dtypes.size(); ++i) {
    ++count[static_cast<int>(dtypes[i])];
    bytes += static_cast<double>(dtype_bytes(dtypes[i], m.tensors[i].numel()));
  }
  std::string types;
  for (int i = 0; i < kDTypeCount; ++i)
    if (count[i])
      types += (types.empty() ? "" : ", ") + std::to_string(count[i]) + " " +
               dtype_name(static_cast<DType>(i));
  std::fprintf(stderr, "wrote %s (%s, %s, %.1f MiB of weights; tensors: %s)\n", out.c_str(),
               to.c_str(), dtype, bytes / (1 << 20), types.c_str());
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
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (positional.size() != 2) fail("convert: expected IN and OUT (see 'longctx convert --help')");
  const std::string in = positional[0], out = positional[1];
  const std::string to = a.str("--to", ends_with(out, ".gguf") ? "gguf" : "hf");
  if (to != "gguf" && to != "hf") fail("--to: expected gguf or hf, got '", to, "'");
  const ConvertTarget target = parse_convert_target(a.str("--dtype", "f32"));
  if (to == "hf" && (dtype_quantized(target.base) || target.mix != QuantMix::None))
    fail("--dtype ", target.name, ": safetensors holds f32, f16 or bf16 only (use --to gguf)");

  auto model = load_model_file(in);
  if (to == "gguf" && model->config.arch != Arch::Llama && model->config.arch != Arch::Gemma3)
    fail(out, ": writing the '", arch_name(model->config.arch),
         "' architecture to GGUF is not supported (use --to hf)");
  if (to == "gguf" && model->config.qkv_bias)
    fail(out, ": writing q/k/v biases (Qwen2ForCausalLM) to GGUF is not supported (use --to hf)");
  // Tensors written / total: live on a terminal, a plain line every 10 s otherwise; the "wrote"
  // line below is the summary. GGUF tensors are converted one at a time as they are written, so
  // the count also tracks the quantization.
  ProgressOptions po;
  po.final_line = false;
  ProgressReporter progress("convert", "tensors", static_cast<int64_t>(model->tensors.size()), po);
  const TensorWriteProgress on_tensor = [&](int64_t written, int64_t total) {
    progress.update(written, total);
  };
  if (to == "gguf") {
    // A GGUF input keeps its metadata (tokenizer, chat template, names, ...) unless -z replaces
    // the tokenizer; general.file_type says what this file now holds.
    GgufKv extra = gguf_input_metadata(in, /*keep_tokenizer=*/!a.has("-z"));
    if (a.has("-z")) {
      const auto tok = load_tokenizer(a.str("-z"), static_cast<int>(model->config.vocab_size));
      for (auto& kv : gguf_tokenizer_metadata(*tok)) extra.push_back(std::move(kv));
    }
    extra.emplace_back("general.file_type", gguf_u32(target.file_type));
    extra.emplace_back("general.quantization_version", gguf_u32(kGgmlQuantizationVersion));
    const std::vector<DType> dtypes = plan_tensor_dtypes(target, *model);
    permute_rope_rows(*model, gguf_rope_style(model->config.arch));
    write_model_gguf(out, *model, extra, on_tensor, dtypes);
    progress.finish();
    print_summary(out, to, target.name, *model, dtypes);
    return 0;
  }
  model->convert_matrices(target.base);
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
  progress.finish();
  std::vector<DType> dtypes;
  for (const auto& t : model->tensors) dtypes.push_back(t.dtype);
  print_summary(out, to, target.name, *model, dtypes);
  return 0;
}

}  // namespace lc::cli
