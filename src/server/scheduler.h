// Continuous batching over a fixed set of slots (docs/server.md). One scheduler thread owns the
// slots; each step it admits queued jobs into free slots, then runs every active sequence in
// batched forwards -- one row per decoding sequence and a prompt chunk (at most block_tokens,
// aligned to block boundaries from the prompt's start) for prefilling ones, oldest first, within
// a per-step prefill budget -- so that a long prompt never stalls the streams.
//
// Memory is slots x the per-slot state size: each slot's cache is bounded by its policy
// (lambda/streaming/window: constant; full: --ctx). A slot keeps its cache after its job ends;
// a later job whose prompt starts with exactly the tokens that cache was fed (a chat that goes
// on) continues from it -- even when a bounded policy has evicted the middle, since the cache
// holds what a fresh prefill of those tokens would hold. The slot remembers only the count and a
// 64-bit hash of the tokens fed (constant memory per slot).
//
// Sequences with different attention policies (a request's "attention" field) run in separate
// forwards of the same step. The model and tokenizer are shared and immutable.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/aligned.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "server/job.h"
#include "server/text_stream.h"
#include "tokenizer/tokenizer.h"

namespace lc::server {

struct SchedulerOptions {
  int64_t slots = 4;
  int64_t max_queue = 64;      // jobs waiting for a slot; more are refused (HTTP 429)
  SessionOptions session;      // threads, --ctx, the default attention policy, block_tokens
  int64_t prefill_budget = 0;  // prompt tokens per step over all sequences; 0 = block_tokens
  bool reuse = true;           // continue a slot's cache when a prompt extends what it holds
};

// Counters for /metrics (monotonic unless said).
struct SchedulerStats {
  int64_t slots = 0, busy_slots = 0, queued = 0;  // gauges
  size_t state_bytes_per_slot = 0;                // of the server's default policy
  int64_t kv_bytes_per_token = 0;                 // of the default policy's cache types
  size_t state_bytes = 0;                         // gauge: every slot's state
  int64_t prompt_tokens = 0;                      // prompt tokens computed
  int64_t reused_tokens = 0;                      // prompt tokens taken from a slot's cache
  int64_t generated_tokens = 0;
  int64_t steps = 0;
  double busy_seconds = 0;              // time inside forwards
  int64_t finished[6] = {};             // jobs by Finish
  double decode_tokens_per_second = 0;  // gauge: generated tokens / wall time of recent steps
};

class Scheduler {
 public:
  Scheduler(const Model& model, const Tokenizer& tok, const SchedulerOptions& opt);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Runs steps on a thread of its own until shutdown().
  void start();
  enum class Submitted { Ok, QueueFull, ShuttingDown };
  Submitted submit(const std::shared_ptr<Job>& job);
  // Stops admitting; lets active and queued jobs finish for up to grace_seconds, cancels the
  // rest, and joins the thread. Idempotent.
  void shutdown(double grace_seconds);
  bool draining() const { return draining_.load(); }

  // One step (admissions, cancellations, one round of forwards); false when there was nothing
  // to do. The thread calls it; tests drive it directly (without start()).
  bool step();

  SchedulerStats stats() const;
  int64_t slots() const { return static_cast<int64_t>(slots_.size()); }
  // Positions a sequence of the default policy can hold (INT64_MAX when bounded).
  int64_t capacity() const { return capacity_; }
  const std::string& label() const { return label_; }

  // Positions a sequence of the given policy can hold; lc::Error when the model refuses it.
  int64_t capacity_for(const AttentionConfig& attn) const;

 private:
  struct Slot {
    std::unique_ptr<SequenceState> state;
    std::string key;  // AttentionConfig::label() of the state's policy
    std::shared_ptr<Job> job;
    std::unique_ptr<Sampler> sampler;
    std::unique_ptr<TextStream> text;
    int64_t fed = 0;  // prompt tokens fed so far (prefill phase while fed < prompt size)
    int next = -1;    // decode phase: the token to feed next
    int prev = -1;    // the last token, for detokenization
    int64_t generated = 0;
    uint64_t hist_hash = 0;  // hash of every token the state holds (see header comment)
    int64_t hist_len = 0;
    uint64_t last_used = 0;  // admission counter, for least-recently-used choice
    int64_t admitted_order = 0;
  };
  struct Row {
    int64_t slot;
    int64_t n;
    bool prefill;
  };

  void run();
  void admit();
  void admit_one(const std::shared_ptr<Job>& job);
  void expire();
  void forward_group(std::vector<Row>& rows, bool all_logits);
  void after_prompt_rows(Slot& s, const float* logits, int64_t n);
  void sample_and_emit(Slot& s, const float* logits, int id);
  void finish(Slot& s, Finish why, const std::string& error = {});
  // The scratch serving states of st's label, made with `so` the first time.
  ForwardScratch& scratch_for(const SequenceState& st, const StateOptions& so);
  TokenLogprob score(const float* logits, int id, int prev, int top_k);
  StateOptions state_options(const JobParams& p) const;

  const Model& model_;
  const Tokenizer& tok_;
  SchedulerOptions opt_;
  int64_t vocab_;
  int64_t capacity_ = 0;
  std::string label_;
  size_t default_state_bytes_ = 0;
  ThreadPool pool_;
  std::vector<Slot> slots_;
  std::map<std::string, std::unique_ptr<ForwardScratch>> scratch_;  // by state label
  int64_t scratch_rows_;
  AlignedBuffer<float> logits_;  // [max(slots, block_tokens), vocab]
  std::vector<int> tokens_;      // a forward's token rows
  std::vector<SeqBlock> blocks_;
  std::vector<int64_t> order_;  // a step's plan (reserved for every slot at start-up)
  std::vector<Row> plan_, group_;
  std::vector<char> done_;
  std::vector<int> sampled_;  // a forward's sampled token per row (-1: the row samples none)
  std::vector<std::pair<float, int>> top_;  // [vocab] top-k selection
  uint64_t admissions_ = 0;

  mutable std::mutex mu_;  // queue_, stats_, thread control
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::set<std::shared_ptr<Job>> running_;  // the slots' jobs, for shutdown from another thread
  SchedulerStats stats_;
  std::atomic<bool> draining_{false}, stop_{false};
  std::thread thread_;
};

}  // namespace lc::server
