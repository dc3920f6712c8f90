// End-to-end throughput benchmarks over any model (`longctx bench`): prefill and decode tokens/s
// (median, p10, p90 over repetitions after a warm-up), one sequence or a batch of B decoded in
// one forward per step, after an optional random --fill context; each checks correctness before
// timing (prefill vs token-by-token decode; batched decode vs a lone prefill). And the Taylor
// prefill forms of a linear-attention model (chunked vs quadratic, whole model or the core).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eval/json_writer.h"
#include "model/model.h"
#include "runtime/session.h"

namespace lc {

struct BenchSpec {
  int64_t batch = 0;  // 0: one sequence (Session); >= 1: a BatchSession of that many
  int64_t n_prompt = 128, n_gen = 64, reps = 5, fill = 0;
  uint64_t seed = 1;
  // Called after each repetition (the warm-up included): (done, reps + 1).
  std::function<void(int64_t done, int64_t total)> progress;
};

struct Spread {
  double median = 0, p10 = 0, p90 = 0;
};
// Median, p10 and p90 (linear interpolation); zeros for an empty sample.
Spread spread_of(std::vector<double> v);

struct BenchResult {
  std::string label;               // resolved policy ("lambda(...)"), or the mixer / form measured
  bool bounded = false;            // no context limit
  int64_t ctx = 0;                 // the context the run needed
  int64_t cache_slots = 0;         // KV-cache slots per sequence (0: recurrent state)
  int64_t kv_bytes_per_token = 0;  // KV-cache bytes per cached position (its element types)
  size_t state_bytes_per_seq = 0, workspace_bytes = 0;
  double check = 0;        // relative error of the correctness check
  Spread prefill, decode;  // tokens/s over all sequences
  bool has_decode = true;
  double fill_seconds = 0;  // median per repetition, untimed
};

// Throws lc::Error when the check fails or the run does not fit the context.
BenchResult bench_generation(const Model& model, const SessionOptions& so, const BenchSpec& spec);

// Prefill only, the prompt in one block from a fresh state, with the linear-attention layers in
// `form` ("chunked" | "quadratic"); mixer_only: just the Taylor core at the model's shape on
// random q, k, v. Fails on a model without Taylor linear attention.
BenchResult bench_taylor(const Model& model, int n_threads, const std::string& form,
                         bool mixer_only, const BenchSpec& spec);

// What the JSON records besides the result.
struct BenchRecord {
  std::string model_path, arch, dtype, isa;
  double n_params = 0;
  size_t weight_bytes = 0;
  int threads = 0;
  std::string taylor;  // "" unless --taylor
};
// One sequence: the fields of docs/perf (kv_cache_bytes, cache_slots, prefill, decode, ...);
// batched and Taylor runs: state_bytes_per_seq, state_bytes_total, workspace_bytes, ...
std::string bench_json(const BenchRecord& rec, const BenchSpec& spec, const BenchResult& r);

}  // namespace lc
