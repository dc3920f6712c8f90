// The cells of the Python sweeps (python/longctx/sweep.py) and their reports. A cell is one
// independent unit of an evaluation that a Ray worker runs: one document under one attention
// configuration (ppl), or one passkey sample. The reports merge cells with the library's own
// functions (ppl_result_from_nll, passkey_result, ppl_json, passkey_json and the plots), so a
// sweep's JSON is the CLI's JSON: same keys, same numbers (timings and memory aside).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "bindings.h"
#include "chat/chat_template_source.h"
#include "core/error.h"
#include "core/sha256.h"
#include "core/timer.h"
#include "eval/passkey.h"
#include "eval/passkey_report.h"
#include "eval/perplexity.h"
#include "eval/ppl_run.h"
#include "py_model.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace lc::py {

namespace {

constexpr int kDepthBuckets = 5;  // as `longctx passkey`

using Int32Array = nb::ndarray<nb::numpy, const int32_t, nb::ndim<1>, nb::c_contig>;
using NllArray = nb::ndarray<nb::numpy, const double, nb::ndim<1>, nb::c_contig>;

std::string read_document(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("document: cannot read '", path, "' (missing or not a regular file)");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  check_text_input(path, text);
  return text;
}

RunInfo run_info(const LoadedModel& m, const char* evaluation, const std::string& command) {
  RunInfo info;
  info.evaluation = evaluation;
  info.model_path = m.file->path;
  info.model_sha256 = sha256_path(m.file->path);
  info.tokenizer = m.tokenizer_path.empty() ? "(beside the model)" : m.tokenizer_path;
  info.threads = m.threads;
  info.command_line = command;
  return info;
}

PasskeyOptions passkey_options(const LoadedModel& m, const std::vector<int64_t>& lengths,
                               int64_t samples, int digits, uint64_t seed, bool chat,
                               const std::vector<double>& depths = {}) {
  PasskeyOptions o;
  check_passkey_depths(depths, "depths");
  o.depths = depths;
  if (chat) {  // as `longctx passkey --chat`: the model's own template
    o.chat = chat_template_for_model(*m.file);
    if (!o.chat) throw nb::value_error((m.path + " has no chat template (chat=True)").c_str());
  }
  o.lengths = lengths;
  o.samples = samples;
  o.digits = digits;
  o.seed = seed;
  o.depth_buckets = kDepthBuckets;
  o.n_threads = m.threads;
  return o;
}

nb::dict sample_dict(const PasskeySample& s) {
  nb::dict d;
  d["target_len"] = s.target_len;
  d["prompt_tokens"] = s.prompt_tokens;
  d["n_fillers"] = s.n_fillers;
  d["slot"] = s.slot;
  d["depth"] = s.depth;
  d["key"] = s.key;
  d["output"] = to_str(s.output);
  d["output_bytes"] = nb::bytes(s.output.data(), s.output.size());
  d["correct"] = s.correct;
  d["key_nll"] = s.key_nll;
  d["key_tokens"] = s.key_tokens;
  d["answer_tokens"] = s.answer_tokens;
  return d;
}

PasskeySample sample_from(const nb::dict& d) {
  PasskeySample s;
  s.target_len = nb::cast<int64_t>(d["target_len"]);
  s.prompt_tokens = nb::cast<int64_t>(d["prompt_tokens"]);
  s.n_fillers = nb::cast<int64_t>(d["n_fillers"]);
  s.slot = nb::cast<int64_t>(d["slot"]);
  s.depth = nb::cast<double>(d["depth"]);
  s.key = nb::cast<uint64_t>(d["key"]);
  nb::bytes out = nb::cast<nb::bytes>(d["output_bytes"]);
  s.output.assign(out.c_str(), out.size());
  s.correct = nb::cast<bool>(d["correct"]);
  s.key_nll = nb::cast<double>(d["key_nll"]);
  s.key_tokens = nb::cast<int64_t>(d["key_tokens"]);
  if (d.contains("answer_tokens")) s.answer_tokens = nb::cast<int64_t>(d["answer_tokens"]);
  return s;
}

}  // namespace

void bind_eval(nb::module_& m) {
  // Documents read, checked and tokenized as `longctx ppl -f ... --max-len N` does.
  m.def(
      "ppl_documents",
      [](const LoadedModel& lm, const std::vector<std::string>& paths, int64_t max_len) {
        if (paths.empty()) throw nb::value_error("documents: an empty list");
        if (max_len < 0 || max_len == 1) throw nb::value_error("max_len: expected 0 (all) or >= 2");
        PplOptions opt;
        opt.max_len = max_len;
        std::vector<PplDoc> docs;
        {
          nb::gil_scoped_release unlocked;
          std::vector<std::string> texts;
          for (const auto& p : paths) texts.push_back(read_document(p));
          docs = tokenize_documents(*lm.tok, paths, std::move(texts), opt);
        }
        nb::list out;
        for (PplDoc& d : docs) {
          nb::dict e;
          e["path"] = d.path;
          e["tokens_total"] = d.tokens_total;
          e["tokens"] = owned_array(std::vector<int32_t>(d.tokens.begin(), d.tokens.end()),
                                    {d.tokens.size()});
          out.append(e);
        }
        return out;
      },
      "model"_a, "paths"_a, "max_len"_a = 0);

  // One document under one configuration, in a session as `longctx ppl` sizes it for documents
  // of up to session_tokens tokens.
  m.def(
      "ppl_cell",
      [](const LoadedModel& lm, Int32Array tokens, const std::string& attention,
         int64_t session_tokens) {
        const AttentionConfig attn = parse_attention(lm, attention);
        const int64_t n = static_cast<int64_t>(tokens.shape(0));
        if (n < 2) throw nb::value_error("ppl_cell: a document needs at least 2 tokens");
        if (session_tokens < n) throw nb::value_error("ppl_cell: session_tokens < the document");
        std::vector<int> ids(tokens.data(), tokens.data() + n);
        check_ids(lm, ids);
        std::vector<double> nll;
        std::string label;
        size_t state_bytes = 0;
        double seconds = 0;
        {
          nb::gil_scoped_release unlocked;
          Session s(*lm.model, eval_session_options(attn, session_tokens, lm.threads));
          label = s.label();
          state_bytes = s.state_bytes();
          const double t0 = now_seconds();
          nll = sequence_nll(s, ids.data(), n);
          seconds = now_seconds() - t0;
        }
        nb::dict r;
        r["nll"] = owned_array(std::move(nll), {static_cast<size_t>(n - 1)});
        r["label"] = label;
        r["state_bytes"] = state_bytes;
        r["seconds"] = seconds;
        r["peak_rss"] = peak_rss_bytes();
        return r;
      },
      "model"_a, "tokens"_a, "attention"_a, "session_tokens"_a);

  // The ppl JSON of documents (ppl_documents' entries) and results, one per configuration in
  // order: {attention, label, nll: [one array per document], state_bytes, seconds, peak_rss}.
  // Writes the NLL-by-position plot to plot_path when given.
  m.def(
      "ppl_report",
      [](const LoadedModel& lm, const nb::list& documents, const nb::list& results, int64_t bin,
         int64_t max_len, const std::string& command, const std::string& plot_path) {
        if (bin < 1) throw nb::value_error("bin: expected >= 1");
        PplOptions opt;
        opt.bin = bin;
        opt.max_len = max_len;
        opt.n_threads = lm.threads;
        std::vector<PplDoc> docs;
        for (nb::handle h : documents) {
          nb::dict d = nb::cast<nb::dict>(h);
          PplDoc doc;
          doc.path = nb::cast<std::string>(d["path"]);
          doc.tokens_total = nb::cast<int64_t>(d["tokens_total"]);
          Int32Array t = nb::cast<Int32Array>(d["tokens"]);
          doc.tokens.assign(t.data(), t.data() + t.shape(0));
          docs.push_back(std::move(doc));
        }
        std::vector<PplResult> out;
        for (nb::handle h : results) {
          nb::dict r = nb::cast<nb::dict>(h);
          std::vector<std::vector<double>> nll;
          for (nb::handle a : nb::cast<nb::list>(r["nll"])) {
            NllArray v = nb::cast<NllArray>(a);
            nll.emplace_back(v.data(), v.data() + v.shape(0));
          }
          out.push_back(ppl_result_from_nll(
              parse_attention(lm, nb::cast<std::string>(r["attention"])),
              nb::cast<std::string>(r["label"]), docs, nll, opt, nb::cast<size_t>(r["state_bytes"]),
              nb::cast<double>(r["seconds"]), nb::cast<size_t>(r["peak_rss"])));
        }
        if (out.empty()) throw nb::value_error("results: an empty list");
        const ModelConfig& c = lm.model->config();
        if (!plot_path.empty()) write_ppl_plot(plot_path, c, opt, docs.size(), out);
        return ppl_json(run_info(lm, "ppl", command), c, lm.model->takes_attention_policy(), opt,
                        docs, out);
      },
      "model"_a, "documents"_a, "results"_a, "bin"_a, "max_len"_a, "command"_a, "plot_path"_a = "");

  // The resolved configuration of an attention string for this model (ValueError when it is
  // malformed or the model takes none): the sweeps check every policy before starting workers.
  m.def(
      "check_attention",
      [](const LoadedModel& lm, const std::string& attention) {
        return parse_attention(lm, attention).label();
      },
      "model"_a, "attention"_a);

  // Fails (lc::Error, as `longctx passkey` does before running) when a length is below the
  // prompt's overhead for the largest key of `digits` digits.
  m.def(
      "passkey_check",
      [](const LoadedModel& lm, const std::vector<int64_t>& lengths, int digits, bool chat) {
        if (digits < 1 || digits > 18) throw nb::value_error("digits: expected 1..18");
        const PasskeyOptions opt = passkey_options(lm, lengths, 1, digits, 1, chat);
        nb::gil_scoped_release unlocked;
        check_passkey_lengths(*lm.tok, opt);
      },
      "model"_a, "lengths"_a, "digits"_a, "chat"_a = false);

  // Passkey sample `index` at `length` of a run over `lengths` (which size a full cache).
  m.def(
      "passkey_cell",
      [](const LoadedModel& lm, const std::string& attention, const std::vector<int64_t>& lengths,
         int64_t samples, int digits, uint64_t seed, int64_t length, int64_t index, bool chat,
         const std::vector<double>& depths) {
        const AttentionConfig attn = parse_attention(lm, attention);
        const PasskeyOptions opt =
            passkey_options(lm, lengths, samples, digits, seed, chat, depths);
        if (std::find(lengths.begin(), lengths.end(), length) == lengths.end())
          throw nb::value_error("passkey_cell: length is not one of lengths");
        if (index < 0 || index >= samples)
          throw nb::value_error("passkey_cell: index out of range");
        PasskeySample s;
        std::string label;
        double seconds = 0;
        {
          nb::gil_scoped_release unlocked;
          Session session(*lm.model, passkey_session_options(attn, opt));
          label = session.label();
          const double t0 = now_seconds();
          s = run_passkey_sample(session, *lm.tok, opt, length, index);
          seconds = now_seconds() - t0;
        }
        nb::dict d = sample_dict(s);
        d["label"] = label;
        d["seconds"] = seconds;
        return d;
      },
      "model"_a, "attention"_a, "lengths"_a, "samples"_a, "digits"_a, "seed"_a, "length"_a,
      "index"_a, "chat"_a = false, "depths"_a = std::vector<double>{});

  // The passkey JSON of results, one per configuration: {attention, label, samples (cells in
  // length-then-index order), seconds}. Writes the two plots when plot_path is given.
  m.def(
      "passkey_report",
      [](const LoadedModel& lm, const nb::list& results, const std::vector<int64_t>& lengths,
         int64_t samples, int digits, uint64_t seed, const std::string& command,
         const std::string& plot_path, bool chat, const std::vector<double>& depths) {
        const PasskeyOptions opt =
            passkey_options(lm, lengths, samples, digits, seed, chat, depths);
        std::vector<PasskeyResult> out;
        for (nb::handle h : results) {
          nb::dict r = nb::cast<nb::dict>(h);
          std::vector<PasskeySample> ss;
          for (nb::handle s : nb::cast<nb::list>(r["samples"]))
            ss.push_back(sample_from(nb::cast<nb::dict>(s)));
          out.push_back(passkey_result(parse_attention(lm, nb::cast<std::string>(r["attention"])),
                                       nb::cast<std::string>(r["label"]), std::move(ss), opt,
                                       nb::cast<double>(r["seconds"])));
        }
        if (out.empty()) throw nb::value_error("results: an empty list");
        const ModelConfig& c = lm.model->config();
        if (!plot_path.empty()) write_passkey_plots(plot_path, c, opt, out);
        return passkey_json(run_info(lm, "passkey", command), c, lm.model->takes_attention_policy(),
                            opt, out);
      },
      "model"_a, "results"_a, "lengths"_a, "samples"_a, "digits"_a, "seed"_a, "command"_a,
      "plot_path"_a = "", "chat"_a = false, "depths"_a = std::vector<double>{});
}

}  // namespace lc::py
