#include "py_model.h"

#include <nanobind/nanobind.h>
#include <sys/stat.h>

#include "attention/parse.h"
#include "core/dtype.h"
#include "core/error.h"
#include "model/registry.h"
#include "tokenizer/discover.h"

namespace nb = nanobind;

namespace lc::py {

namespace {

bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

[[noreturn]] void raise_file_not_found(const std::string& what, const std::string& path) {
  PyErr_SetString(
      PyExc_FileNotFoundError,
      (what + ": '" + path + "' does not exist (expected a model file or directory)").c_str());
  throw nb::python_error();
}

}  // namespace

std::shared_ptr<LoadedModel> load(const std::string& path, const std::string& dtype, int threads,
                                  const std::string& tokenizer) {
  if (!exists(path)) raise_file_not_found("Model", path);
  if (!tokenizer.empty() && !exists(tokenizer)) raise_file_not_found("tokenizer", tokenizer);
  if (threads < 1 || threads > 256)
    throw nb::value_error(("threads: expected 1..256, got " + std::to_string(threads)).c_str());
  DType to = DType::F32;
  if (!dtype.empty()) {
    try {
      to = parse_dtype(dtype);
    } catch (const Error& e) {
      throw nb::value_error(("dtype: " + std::string(e.what())).c_str());
    }
  }
  auto m = std::make_shared<LoadedModel>();
  m->path = path;
  m->dtype = dtype;
  m->tokenizer_path = tokenizer;
  m->threads = threads;
  nb::gil_scoped_release unlocked;
  m->file = load_model_file(path);
  if (!dtype.empty()) m->file->convert_matrices(to);
  m->tok = load_tokenizer_for_model(tokenizer, *m->file);
  m->model = make_model(*m->file);
  return m;
}

AttentionConfig parse_attention(const LoadedModel& m, const std::string& text) {
  if (!text.empty() && !m.model->takes_attention_policy())
    throw nb::value_error(("attention '" + text +
                           "': attention policies do not apply to this model (arch '" +
                           arch_name(m.model->config().arch) +
                           "': its mixers are fixed by its config); pass attention=\"\"")
                              .c_str());
  std::vector<AttentionConfig> list;
  try {
    list = parse_attention_list(text.empty() ? "full" : text, attention_defaults(), !text.empty());
  } catch (const Error& e) {
    throw nb::value_error(("attention: " + std::string(e.what())).c_str());
  }
  if (list.size() != 1)
    throw nb::value_error(
        ("attention '" + text + "': one configuration expected, got " + std::to_string(list.size()))
            .c_str());
  return list.front();
}

SessionOptions session_options(const LoadedModel& m, const std::string& attention, int64_t ctx) {
  if (ctx < 0) throw nb::value_error("ctx: expected >= 0 (0 = the trained context)");
  SessionOptions so;
  so.n_threads = m.threads;
  so.ctx = ctx;
  so.attn = parse_attention(m, attention);
  return so;
}

std::vector<int> encode_prompt(const LoadedModel& m, const std::string& text, bool special) {
  EncodeOptions o;
  o.add_bos = m.tok->adds_bos();
  o.parse_special = special;
  return m.tok->encode(text, o);
}

void check_ids(const LoadedModel& m, const std::vector<int>& ids) {
  const int64_t vocab = m.model->vocab_size();
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      throw nb::value_error(("token id " + std::to_string(ids[i]) + " at index " +
                             std::to_string(i) + " is out of range [0, " + std::to_string(vocab) +
                             ")")
                                .c_str());
}

}  // namespace lc::py
