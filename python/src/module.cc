// The nanobind module longctx._core: Model (load, tokenize, generate, score, logits) and the
// evaluation cells of the sweeps (eval_cells.cc). Engine errors (lc::Error) become
// longctx.Error (a RuntimeError) carrying the engine's one-line message; argument errors are
// ValueError, a missing file FileNotFoundError. Every computation releases the GIL.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <optional>
#include <variant>

#include "bindings.h"
#include "chat/chat_format.h"
#include "chat/chat_template_source.h"
#include "core/error.h"
#include "eval/perplexity.h"
#include "runtime/batch_session.h"
#include "runtime/chat_session.h"
#include "runtime/generate.h"
#include "text_stream.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace lc::py {

namespace {

using Prompt = std::variant<std::string, std::vector<int>>;

std::vector<int> prompt_ids(const LoadedModel& m, const Prompt& p, bool special) {
  if (const auto* text = std::get_if<std::string>(&p)) return encode_prompt(m, *text, special);
  const auto& ids = std::get<std::vector<int>>(p);
  check_ids(m, ids);
  return ids;
}

GenerateOptions generate_options(int64_t max_tokens, double temperature, int64_t top_k,
                                 double top_p, uint64_t seed, bool special) {
  if (max_tokens < 0) throw nb::value_error("max_tokens: expected >= 0");
  if (!(temperature >= 0)) throw nb::value_error("temperature: expected >= 0 (0 = greedy)");
  if (top_k < 0) throw nb::value_error("top_k: expected >= 0 (0 = off)");
  if (!(top_p > 0 && top_p <= 1)) throw nb::value_error("top_p: expected in (0, 1]");
  GenerateOptions g;
  g.max_new_tokens = max_tokens;
  g.sampler.temperature = static_cast<float>(temperature);
  g.sampler.top_k = top_k;
  g.sampler.top_p = static_cast<float>(top_p);
  g.sampler.seed = seed;
  g.special = special;
  return g;
}

// A conversation ([{"role", "content"}, ...]) through the file's chat template, ready for the
// assistant's reply, as token ids (as `longctx run --chat` and the server's chat endpoint).
std::vector<int> chat_prompt(const LoadedModel& m, const nb::list& messages) {
  std::vector<ChatMessage> msgs;
  for (nb::handle h : messages) {
    if (!nb::isinstance<nb::dict>(h))
      throw nb::value_error("messages: each message must be a dict with 'role' and 'content'");
    nb::dict d = nb::borrow<nb::dict>(h);
    if (!d.contains("role") || !d.contains("content") || !nb::isinstance<nb::str>(d["role"]) ||
        !nb::isinstance<nb::str>(d["content"]))
      throw nb::value_error("messages: each message needs string 'role' and 'content'");
    msgs.push_back({nb::cast<std::string>(d["role"]), nb::cast<std::string>(d["content"])});
  }
  if (msgs.empty()) throw nb::value_error("messages: an empty list");
  const std::optional<ChatTemplateSource> tmpl = chat_template_for_model(*m.file);
  if (!tmpl)
    throw nb::value_error((m.path + " has no chat template (GGUF tokenizer.chat_template or "
                                    "tokenizer_config.json chat_template); use generate()")
                              .c_str());
  ChatRenderOptions ro;
  ro.bos_token = tmpl->bos_token;
  ro.eos_token = tmpl->eos_token;
  const std::string text = render_chat(tmpl->source, msgs, ro);
  return encode_chat_prompt(*m.tok, text, tmpl->bos_token);
}

// -m's own ctx for a sequence of n tokens under full attention: the trained context, or n when
// longer (as `longctx logits` does for parity checks).
int64_t ctx_for(const LoadedModel& m, int64_t n) { return n > m.model->config().ctx_len ? n : 0; }

}  // namespace

nb::str to_str(const std::string& bytes) {
  PyObject* s =
      PyUnicode_DecodeUTF8(bytes.data(), static_cast<Py_ssize_t>(bytes.size()), "replace");
  if (!s) throw nb::python_error();
  return nb::steal<nb::str>(s);
}

void bind_model(nb::module_& m) {
  nb::class_<LoadedModel>(m, "Model")
      .def(nb::new_(
               [](const std::string& path, const std::string& dtype, int threads,
                  const std::string& tokenizer) { return load(path, dtype, threads, tokenizer); }),
           "path"_a, "dtype"_a = "", "threads"_a = 2, "tokenizer"_a = "")
      .def_ro("path", &LoadedModel::path)
      .def_ro("threads", &LoadedModel::threads)
      .def_prop_ro("dtype",
                   [](const LoadedModel& lm) { return lm.dtype.empty() ? "auto" : lm.dtype; })
      .def_prop_ro("arch", [](const LoadedModel& lm) { return arch_name(lm.model->config().arch); })
      .def_prop_ro("vocab_size", [](const LoadedModel& lm) { return lm.model->vocab_size(); })
      .def_prop_ro("ctx_len", [](const LoadedModel& lm) { return lm.model->config().ctx_len; })
      .def_prop_ro("n_layers", [](const LoadedModel& lm) { return lm.model->config().n_layers; })
      .def_prop_ro("d_model", [](const LoadedModel& lm) { return lm.model->config().d_model; })
      .def_prop_ro("bos_id", [](const LoadedModel& lm) { return lm.tok->bos_id(); })
      .def_prop_ro("eos_id", [](const LoadedModel& lm) { return lm.tok->eos_id(); })
      .def_prop_ro("takes_attention",
                   [](const LoadedModel& lm) { return lm.model->takes_attention_policy(); })
      .def("__repr__",
           [](const LoadedModel& lm) {
             return "longctx.Model('" + lm.path + "', arch=" + arch_name(lm.model->config().arch) +
                    ", threads=" + std::to_string(lm.threads) + ")";
           })
      .def(
          "tokenize",
          [](const LoadedModel& lm, const std::string& text, bool bos, bool special) {
            EncodeOptions o;
            o.add_bos = bos && lm.tok->adds_bos();
            o.parse_special = special;
            nb::gil_scoped_release unlocked;
            return lm.tok->encode(text, o);
          },
          "text"_a, "bos"_a = true, "special"_a = false)
      .def(
          "detokenize",
          [](const LoadedModel& lm, const std::vector<int>& ids, bool special) {
            check_ids(lm, ids);
            std::string out;
            int prev = -1;
            for (int id : ids) {
              out += lm.tok->decode(prev, id, special);
              prev = id;
            }
            return to_str(out);
          },
          "ids"_a, "special"_a = false)
      .def(
          "generate",
          [](std::shared_ptr<LoadedModel> lm, const Prompt& prompt, int64_t max_tokens,
             double temperature, int64_t top_k, double top_p, uint64_t seed,
             const std::string& attention, const std::vector<std::string>& stop, int64_t ctx,
             bool special) {
            const SessionOptions so = session_options(*lm, attention, ctx);
            const GenerateOptions g =
                generate_options(max_tokens, temperature, top_k, top_p, seed, special);
            std::vector<int> ids = prompt_ids(*lm, prompt, special);
            if (ids.empty()) throw nb::value_error("prompt: no tokens (an empty prompt)");
            nb::gil_scoped_release unlocked;
            return std::make_shared<GenerationStream>(lm, so, std::move(ids), g, stop);
          },
          "prompt"_a, "max_tokens"_a = 256, "temperature"_a = 1.0, "top_k"_a = 0, "top_p"_a = 1.0,
          "seed"_a = 42, "attention"_a = "", "stop"_a = std::vector<std::string>{}, "ctx"_a = 0,
          "special"_a = false)
      .def(
          "chat",
          [](std::shared_ptr<LoadedModel> lm, const nb::list& messages, int64_t max_tokens,
             double temperature, int64_t top_k, double top_p, uint64_t seed,
             const std::string& attention, const std::vector<std::string>& stop, int64_t ctx) {
            const SessionOptions so = session_options(*lm, attention, ctx);
            const GenerateOptions g =
                generate_options(max_tokens, temperature, top_k, top_p, seed, false);
            std::vector<int> ids = chat_prompt(*lm, messages);
            nb::gil_scoped_release unlocked;
            return std::make_shared<GenerationStream>(lm, so, std::move(ids), g, stop,
                                                      chat_stop_ids(*lm->tok));
          },
          "messages"_a, "max_tokens"_a = 512, "temperature"_a = 1.0, "top_k"_a = 0, "top_p"_a = 1.0,
          "seed"_a = 42, "attention"_a = "", "stop"_a = std::vector<std::string>{}, "ctx"_a = 0)
      .def(
          "generate_batch",
          [](const LoadedModel& lm, const std::vector<Prompt>& prompts, int64_t max_tokens,
             double temperature, int64_t top_k, double top_p, uint64_t seed,
             const std::string& attention, int64_t ctx, bool special) {
            if (prompts.empty()) throw nb::value_error("prompts: an empty list");
            SessionOptions so = session_options(lm, attention, ctx);
            const GenerateOptions g =
                generate_options(max_tokens, temperature, top_k, top_p, seed, special);
            std::vector<std::vector<int>> ids;
            for (const Prompt& p : prompts) {
              ids.push_back(prompt_ids(lm, p, special));
              if (ids.back().empty()) throw nb::value_error("prompts: an empty prompt");
            }
            std::vector<std::string> texts;
            {
              nb::gil_scoped_release unlocked;
              BatchSession batch(*lm.model, so, static_cast<int64_t>(ids.size()));
              generate_batch(batch, *lm.tok, ids, g, &texts);
            }
            nb::list out;
            for (const std::string& t : texts) out.append(to_str(t));
            return out;
          },
          "prompts"_a, "max_tokens"_a = 256, "temperature"_a = 1.0, "top_k"_a = 0, "top_p"_a = 1.0,
          "seed"_a = 42, "attention"_a = "", "ctx"_a = 0, "special"_a = false)
      .def(
          "score",
          [](const LoadedModel& lm, const Prompt& doc, const std::string& attention) {
            const AttentionConfig attn = parse_attention(lm, attention);
            std::vector<int> ids;
            if (const auto* text = std::get_if<std::string>(&doc)) {
              ids = lm.tok->encode(*text, lm.tok->adds_bos());  // as `longctx ppl` reads a file
            } else {
              ids = std::get<std::vector<int>>(doc);
              check_ids(lm, ids);
            }
            const int64_t n = static_cast<int64_t>(ids.size());
            if (n < 2)
              throw nb::value_error(("score: " + std::to_string(n) +
                                     " token(s); at least 2 are needed (BOS and one more)")
                                        .c_str());
            std::vector<double> nll;
            {
              nb::gil_scoped_release unlocked;
              Session s(*lm.model, eval_session_options(attn, n, lm.threads));
              nll = sequence_nll(s, ids.data(), n);
            }
            return owned_array(std::move(nll), {static_cast<size_t>(n - 1)});
          },
          "text_or_ids"_a, "attention"_a = "")
      .def(
          "logits",
          [](const LoadedModel& lm, const std::vector<int>& ids, const std::string& attention,
             int64_t last) {
            check_ids(lm, ids);
            const int64_t n = static_cast<int64_t>(ids.size());
            if (n < 1) throw nb::value_error("logits: no tokens");
            if (last < 0 || last > n)
              throw nb::value_error(("logits: last must be in [0, " + std::to_string(n) +
                                     "] (0 = every position), got " + std::to_string(last))
                                        .c_str());
            const int64_t rows = last ? last : n;
            const SessionOptions so = session_options(lm, attention, ctx_for(lm, n));
            const int64_t vocab = lm.model->vocab_size();
            std::vector<float> out;
            {
              nb::gil_scoped_release unlocked;
              out.resize(static_cast<size_t>(rows * vocab));
              Session s(*lm.model, so);
              if (rows == n) {
                s.all_logits(ids.data(), n, out.data());
              } else {  // the prefix without logits, then the last rows block by block
                s.prefill(ids.data(), n - rows);
                for (int64_t r = 0; r < rows;) {
                  const int64_t b = std::min(s.max_block(), rows - r);
                  const float* l = s.forward_all(ids.data() + n - rows + r, b);
                  std::copy(l, l + b * vocab, out.begin() + r * vocab);
                  r += b;
                }
              }
            }
            return owned_array(std::move(out),
                               {static_cast<size_t>(rows), static_cast<size_t>(vocab)});
          },
          "ids"_a, "attention"_a = "", "last"_a = 0);

  nb::class_<GenerationStream>(m, "GenerationStream")
      .def("__iter__", [](nb::handle self) { return self; })
      .def("__next__",
           [](GenerationStream& s) {
             std::string piece;
             bool more;
             {
               nb::gil_scoped_release unlocked;
               more = s.next(&piece);
             }
             if (!more) throw nb::stop_iteration();
             return to_str(piece);
           })
      .def_prop_ro("finish_reason", &GenerationStream::finish_reason)
      .def_prop_ro("tokens", &GenerationStream::tokens)
      .def_prop_ro("n_prompt", [](const GenerationStream& s) { return s.stats().n_prompt; })
      .def_prop_ro("n_generated", [](const GenerationStream& s) { return s.stats().n_generated; });
}

}  // namespace lc::py

NB_MODULE(_core, m) {
  m.doc() = "longctx: C++ engine for long-context inference (binding of the C++ library)";
  nb::exception<lc::Error>(m, "Error", PyExc_RuntimeError);
  lc::py::bind_model(m);
  lc::py::bind_eval(m);
}
