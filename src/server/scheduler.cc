#include "server/scheduler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/timer.h"

namespace lc::server {

const char* finish_name(Finish f) {
  switch (f) {
    case Finish::Stop:
      return "stop";
    case Finish::Length:
      return "length";
    case Finish::Cancelled:
      return "cancelled";
    case Finish::Timeout:
      return "timeout";
    case Finish::Error:
      return "error";
    case Finish::None:
      break;
  }
  return "none";
}

namespace {

// The slot history hash: h_0 = 0, h_{i+1} = mix(h_i, token_i) (splitmix64's finalizer).
uint64_t extend_hash(uint64_t h, int token) {
  uint64_t x = h ^ (static_cast<uint64_t>(static_cast<uint32_t>(token)) + 0x9E3779B97F4A7C15ull);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

Scheduler::Scheduler(const Model& model, const Tokenizer& tok, const SchedulerOptions& opt)
    : model_(model),
      tok_(tok),
      opt_(opt),
      vocab_(std::min<int64_t>(tok.vocab_size(), model.vocab_size())),
      pool_(opt.session.n_threads) {
  check(opt.slots >= 1 && opt.slots <= 1024, "serve: --slots must be 1..1024, got ", opt.slots);
  check(opt.max_queue >= 0, "serve: --max-queue must be >= 0, got ", opt.max_queue);
  const int64_t block = std::max<int64_t>(1, opt.session.block_tokens);
  if (opt_.prefill_budget <= 0) opt_.prefill_budget = block;
  scratch_rows_ = std::max(block, opt_.prefill_budget) + opt.slots;
  slots_.resize(static_cast<size_t>(opt.slots));
  const StateOptions so = opt.session.state();
  for (Slot& s : slots_) {
    s.state = model.new_state(so, pool_.size());
    s.key = opt.session.attn.label();
  }
  capacity_ = slots_[0].state->capacity();
  label_ = slots_[0].state->label();
  default_state_bytes_ = slots_[0].state->bytes();
  scratch_for(*slots_[0].state, so);
  logits_ =
      AlignedBuffer<float>(static_cast<size_t>(std::max(opt.slots, block) * model.vocab_size()));
  tokens_.reserve(static_cast<size_t>(scratch_rows_));
  blocks_.reserve(static_cast<size_t>(opt.slots));
  order_.reserve(static_cast<size_t>(opt.slots));
  plan_.reserve(static_cast<size_t>(opt.slots));
  done_.reserve(static_cast<size_t>(opt.slots));
  group_.reserve(static_cast<size_t>(opt.slots));
  sampled_.reserve(static_cast<size_t>(opt.slots));
  top_.resize(static_cast<size_t>(vocab_));
  stats_.slots = opt.slots;
  stats_.state_bytes_per_slot = default_state_bytes_;
  stats_.kv_bytes_per_token = slots_[0].state->kv_bytes_per_token();
  stats_.state_bytes = default_state_bytes_ * static_cast<size_t>(opt.slots);
}

Scheduler::~Scheduler() { shutdown(0); }

StateOptions Scheduler::state_options(const JobParams& p) const {
  StateOptions so = opt_.session.state();
  if (p.attn) so.attn = *p.attn;
  return so;
}

int64_t Scheduler::capacity_for(const AttentionConfig& attn) const {
  if (attn.label() == slots_[0].key) return capacity_;
  StateOptions so = opt_.session.state();
  so.attn = attn;
  return model_.new_state(so, 1)->capacity();
}

ForwardScratch& Scheduler::scratch_for(const SequenceState& st, const StateOptions& so) {
  auto it = scratch_.find(st.label());
  if (it != scratch_.end()) return *it->second;
  auto sc = model_.new_scratch(so, scratch_rows_, pool_.size());
  return *scratch_.emplace(st.label(), std::move(sc)).first->second;
}

void Scheduler::start() {
  std::lock_guard<std::mutex> lk(mu_);
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void Scheduler::run() {
  while (!stop_.load()) {
    if (step()) continue;
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, std::chrono::milliseconds(50),
                 [&] { return stop_.load() || !queue_.empty(); });
  }
}

Scheduler::Submitted Scheduler::submit(const std::shared_ptr<Job>& job) {
  std::lock_guard<std::mutex> lk(mu_);
  if (draining_.load()) return Submitted::ShuttingDown;
  // Free slots take jobs at the next step; beyond them the queue holds max_queue.
  if (static_cast<int64_t>(queue_.size()) >= opt_.max_queue + (slots() - stats_.busy_slots))
    return Submitted::QueueFull;
  job->submitted_at = now_seconds();
  queue_.push_back(job);
  cv_.notify_all();
  return Submitted::Ok;
}

void Scheduler::shutdown(double grace_seconds) {
  draining_.store(true);
  const double end = now_seconds() + grace_seconds;
  if (thread_.joinable()) {
    while (now_seconds() < end) {
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (queue_.empty() && stats_.busy_slots == 0) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      for (auto& j : queue_) j->cancel.store(true);
      for (auto& j : running_) j->cancel.store(true);
    }
    // The scheduler thread ends the cancelled jobs at its next step.
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (queue_.empty() && stats_.busy_slots == 0) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop_.store(true);
    cv_.notify_all();
    thread_.join();
  } else {
    stop_.store(true);
    for (Slot& s : slots_)
      if (s.job) finish(s, Finish::Cancelled);
  }
  // Anything still queued (no thread, or it did not get to them) ends here.
  std::deque<std::shared_ptr<Job>> left;
  {
    std::lock_guard<std::mutex> lk(mu_);
    left.swap(queue_);
  }
  for (auto& j : left) {
    std::lock_guard<std::mutex> lk(j->channel->mu);
    j->out.finished = true;
    j->out.finish = Finish::Cancelled;
    j->channel->cv.notify_all();
  }
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  SchedulerStats s = stats_;
  s.queued = static_cast<int64_t>(queue_.size());
  return s;
}

void Scheduler::admit() {
  while (true) {
    std::shared_ptr<Job> job;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (queue_.empty()) return;
      bool free_slot = false;
      for (const Slot& s : slots_) free_slot = free_slot || !s.job;
      if (!free_slot) return;
      job = queue_.front();
      queue_.pop_front();
    }
    admit_one(job);
  }
}

void Scheduler::admit_one(const std::shared_ptr<Job>& job) {
  const JobParams& p = job->params;
  const int64_t P = static_cast<int64_t>(p.prompt.size());
  const std::string key = p.attn ? p.attn->label() : opt_.session.attn.label();
  // A free slot whose cache holds the beginning of the prompt: the prompt's running hash is
  // compared with each candidate's at that candidate's length (O(prompt), no allocation).
  auto may_continue = [&](const Slot& s) {
    return !s.job && opt_.reuse && !p.echo && s.key == key && s.hist_len > 0 && s.hist_len < P;
  };
  int64_t best = -1, best_len = 0, longest = 0;
  for (const Slot& s : slots_)
    if (may_continue(s)) longest = std::max(longest, s.hist_len);
  uint64_t h = 0;  // the hash of the prompt's first len tokens
  for (int64_t len = 1; len <= longest; ++len) {
    h = extend_hash(h, p.prompt[len - 1]);
    for (int64_t i = 0; i < slots(); ++i)
      if (may_continue(slots_[i]) && slots_[i].hist_len == len && slots_[i].hist_hash == h) {
        best = i;
        best_len = len;
      }
  }
  if (best < 0)  // the least recently used free slot: the others keep their caches longer
    for (int64_t i = 0; i < slots(); ++i)
      if (!slots_[i].job && (best < 0 || slots_[i].last_used < slots_[best].last_used)) best = i;
  Slot& s = slots_[best];
  s.job = job;
  {
    std::lock_guard<std::mutex> lk(mu_);
    stats_.busy_slots++;
    running_.insert(job);
  }
  s.last_used = ++admissions_;
  s.admitted_order = static_cast<int64_t>(admissions_);
  s.generated = 0;
  s.next = -1;
  s.prev = P > 0 ? p.prompt.back() : -1;
  {
    std::lock_guard<std::mutex> lk(job->channel->mu);
    job->out.slot = best;
    job->out.prompt_tokens = P;
    job->out.queued_seconds = now_seconds() - job->submitted_at;
  }
  try {
    check(P >= 1, "the prompt has no tokens");
    if (!s.state || s.key != key) {
      s.state.reset();
      s.state = model_.new_state(state_options(p), pool_.size());
      s.key = key;
      s.hist_len = 0;
      s.hist_hash = 0;
      size_t bytes = 0;
      for (const Slot& o : slots_) bytes += o.state ? o.state->bytes() : 0;
      std::lock_guard<std::mutex> lk(mu_);
      stats_.state_bytes = bytes;
    }
    check(P <= s.state->capacity(), "the prompt of ", P, " tokens exceeds the context of ",
          s.state->capacity(), " tokens");
    scratch_for(*s.state, state_options(p));
    if (best_len > 0) {
      s.fed = best_len;
    } else {
      s.state->reset();
      s.hist_len = 0;
      s.hist_hash = 0;
      s.fed = 0;
    }
    s.sampler = std::make_unique<Sampler>(vocab_, p.sampler);
    s.text = std::make_unique<TextStream>(p.stop);
    {
      std::lock_guard<std::mutex> lk(mu_);
      stats_.reused_tokens += best_len;
    }
    std::lock_guard<std::mutex> lk(job->channel->mu);
    job->out.reused_tokens = best_len;
    if (p.echo) {
      job->out.prompt.resize(static_cast<size_t>(P));
      for (int64_t i = 0; i < P; ++i) {
        job->out.prompt[i].id = p.prompt[i];
        job->out.prompt[i].text = tok_.decode(i > 0 ? p.prompt[i - 1] : -1, p.prompt[i], true);
      }
    }
  } catch (const std::exception& e) {
    finish(s, Finish::Error, e.what());
  }
}

void Scheduler::expire() {
  const double now = now_seconds();
  for (Slot& s : slots_) {
    if (!s.job) continue;
    const JobParams& p = s.job->params;
    if (s.job->cancel.load())
      finish(s, Finish::Cancelled);
    else if (p.timeout_seconds > 0 && now - s.job->submitted_at > p.timeout_seconds)
      finish(s, Finish::Timeout);
  }
  std::vector<std::shared_ptr<Job>> gone;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto it = queue_.begin(); it != queue_.end();) {
      const auto& j = *it;
      const bool late =
          j->params.timeout_seconds > 0 && now - j->submitted_at > j->params.timeout_seconds;
      if (j->cancel.load() || late) {
        stats_.finished[static_cast<int>(late ? Finish::Timeout : Finish::Cancelled)]++;
        gone.push_back(j);
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& j : gone) {
    std::lock_guard<std::mutex> lk(j->channel->mu);
    j->out.finished = true;
    j->out.finish = j->cancel.load() ? Finish::Cancelled : Finish::Timeout;
    j->channel->cv.notify_all();
  }
}

bool Scheduler::step() {
  admit();
  expire();
  const double t0 = now_seconds();
  int64_t gen_before = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    gen_before = stats_.generated_tokens;
  }
  // Prefill chunks for this step: oldest admission first, within the budget (at least one).
  std::vector<int64_t>& order = order_;
  order.clear();
  for (int64_t i = 0; i < slots(); ++i)
    if (slots_[i].job) order.push_back(i);
  if (order.empty()) return false;
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return slots_[a].admitted_order < slots_[b].admitted_order;
  });
  std::vector<Row>& plan = plan_;
  plan.clear();
  int64_t budget = opt_.prefill_budget;
  bool any_prefill = false;
  for (int64_t i : order) {
    Slot& s = slots_[i];
    const int64_t P = static_cast<int64_t>(s.job->params.prompt.size());
    if (s.fed < P) {
      const int64_t n = std::min(s.state->max_block(), P - s.fed);
      if (any_prefill && n > budget) continue;
      any_prefill = true;
      budget -= n;
      plan.push_back(Row{i, n, true});
    } else {
      plan.push_back(Row{i, 1, false});
    }
  }
  // One forward per attention policy; a prompt whose tokens are scored (echo) runs alone with
  // every row's logits.
  std::vector<char>& done = done_;
  done.assign(plan.size(), 0);
  for (size_t a = 0; a < plan.size(); ++a) {
    if (done[a]) continue;
    const Slot& sa = slots_[plan[a].slot];
    std::vector<Row>& group = group_;
    group.clear();
    if (plan[a].prefill && sa.job->params.echo) {
      group.push_back(plan[a]);
      done[a] = 1;
      forward_group(group, true);
      continue;
    }
    for (size_t b = a; b < plan.size(); ++b) {
      const Slot& sb = slots_[plan[b].slot];
      if (done[b] || (plan[b].prefill && sb.job->params.echo)) continue;
      if (sb.state->label() != sa.state->label()) continue;
      group.push_back(plan[b]);
      done[b] = 1;
    }
    forward_group(group, false);
  }
  const double dt = now_seconds() - t0;
  std::lock_guard<std::mutex> lk(mu_);
  stats_.steps++;
  stats_.busy_seconds += dt;
  const double rate = dt > 0 ? static_cast<double>(stats_.generated_tokens - gen_before) / dt : 0;
  stats_.decode_tokens_per_second = 0.9 * stats_.decode_tokens_per_second + 0.1 * rate;
  return true;
}

void Scheduler::forward_group(std::vector<Row>& rows, bool all_logits) {
  tokens_.clear();
  blocks_.clear();
  for (const Row& r : rows) {
    Slot& s = slots_[r.slot];
    if (r.prefill) {
      const auto& pr = s.job->params.prompt;
      tokens_.insert(tokens_.end(), pr.begin() + s.fed, pr.begin() + s.fed + r.n);
    } else {
      tokens_.push_back(s.next);
    }
    blocks_.push_back(SeqBlock{s.state.get(), r.n});
  }
  try {
    model_.forward(pool_, *scratch_.at(slots_[rows[0].slot].state->label()), blocks_.data(),
                   static_cast<int64_t>(blocks_.size()), tokens_.data(), logits_.data(),
                   all_logits);
  } catch (const std::exception& e) {
    for (const Row& r : rows) {
      Slot& s = slots_[r.slot];
      s.state->reset();
      s.hist_len = 0;
      s.hist_hash = 0;
      finish(s, Finish::Error, e.what());
    }
    return;
  }
  int64_t prompt_tokens = 0, row0 = 0;
  const int64_t V = model_.vocab_size();
  // The next token of every row that takes one now (decode rows; prefill rows that end their
  // prompt), drawn on the pool: each slot's sampler is its own (own RNG, own buffers), so the
  // draws are those of one thread, and over a large vocabulary they are ~0.2 ms each.
  sampled_.assign(rows.size(), -1);
  pool_.run([&](int t, int nt) {
    int64_t at = 0;
    for (size_t j = 0; j < rows.size(); ++j) {
      const Row& r = rows[j];
      const Slot& s = slots_[r.slot];
      const float* last = all_logits ? logits_.data() + (at + r.n - 1) * V : logits_.data() + j * V;
      at += r.n;
      if (static_cast<int64_t>(j % static_cast<size_t>(nt)) != t) continue;
      const JobParams& p = s.job->params;
      const bool takes =
          !r.prefill || (s.fed + r.n == static_cast<int64_t>(p.prompt.size()) && p.max_tokens != 0);
      if (takes) sampled_[j] = s.sampler->sample(last, vocab_);
    }
  });
  for (size_t j = 0; j < rows.size(); ++j) {
    const Row& r = rows[j];
    Slot& s = slots_[r.slot];
    for (int64_t i = 0; i < r.n; ++i) s.hist_hash = extend_hash(s.hist_hash, tokens_[row0 + i]);
    s.hist_len += r.n;
    const float* last = all_logits ? logits_.data() + (row0 + r.n - 1) * V : logits_.data() + j * V;
    if (r.prefill) {
      prompt_tokens += r.n;
      if (all_logits) after_prompt_rows(s, logits_.data() + row0 * V, r.n);
      s.fed += r.n;
      const JobParams& p = s.job->params;
      if (s.fed == static_cast<int64_t>(p.prompt.size())) {
        {
          std::lock_guard<std::mutex> lk(s.job->channel->mu);
          s.job->out.prompt_done = true;
          s.job->channel->cv.notify_all();
        }
        if (p.max_tokens == 0)
          finish(s, Finish::Length);
        else
          sample_and_emit(s, last, sampled_[j]);
      }
    } else {
      sample_and_emit(s, last, sampled_[j]);
    }
    row0 += r.n;
  }
  std::lock_guard<std::mutex> lk(mu_);
  stats_.prompt_tokens += prompt_tokens;
}

TokenLogprob Scheduler::score(const float* logits, int id, int prev, int top_k) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < vocab_; ++i) mx = std::max(mx, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < vocab_; ++i) sum += std::exp(static_cast<double>(logits[i] - mx));
  const double lse = static_cast<double>(mx) + std::log(sum);
  TokenLogprob t;
  t.id = id;
  t.text = tok_.decode(prev, id, true);
  t.scored = true;
  t.logprob = static_cast<float>(static_cast<double>(logits[id]) - lse);
  const int64_t k = std::min<int64_t>(top_k, vocab_);
  if (k > 0) {
    for (int64_t i = 0; i < vocab_; ++i) top_[i] = {logits[i], static_cast<int>(i)};
    std::partial_sort(top_.begin(), top_.begin() + k, top_.end(), [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    for (int64_t i = 0; i < k; ++i)
      t.top.emplace_back(tok_.decode(prev, top_[i].second, true),
                         static_cast<float>(static_cast<double>(top_[i].first) - lse));
  }
  return t;
}

void Scheduler::after_prompt_rows(Slot& s, const float* logits, int64_t n) {
  const JobParams& p = s.job->params;
  const int64_t P = static_cast<int64_t>(p.prompt.size());
  if (p.logprobs < 0) return;
  std::vector<TokenLogprob> scored;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t at = s.fed + i + 1;  // the prompt token this row predicts
    if (at >= P) break;
    scored.push_back(
        score(logits + i * model_.vocab_size(), p.prompt[at], p.prompt[at - 1], p.logprobs));
  }
  std::lock_guard<std::mutex> lk(s.job->channel->mu);
  for (size_t i = 0; i < scored.size(); ++i)
    s.job->out.prompt[s.fed + 1 + static_cast<int64_t>(i)] = std::move(scored[i]);
}

void Scheduler::sample_and_emit(Slot& s, const float* logits, int id) {
  Job& job = *s.job;
  const JobParams& p = job.params;
  const bool stop = id == tok_.eos_id() || id == tok_.bos_id() ||
                    std::find(p.stop_ids.begin(), p.stop_ids.end(), id) != p.stop_ids.end();
  if (stop) {
    std::optional<TokenLogprob> scored;
    if (p.logprobs >= 0) scored = score(logits, id, s.prev, p.logprobs);
    {
      std::lock_guard<std::mutex> lk(job.channel->mu);
      if (s.generated == 0) job.out.first_token_seconds = now_seconds() - job.submitted_at;
      job.out.stop_token = std::move(scored);
    }
    finish(s, Finish::Stop);
    return;
  }
  TokenLogprob t;
  if (p.logprobs >= 0)
    t = score(logits, id, s.prev, p.logprobs);
  else
    t.id = id;
  const std::string piece = tok_.decode(s.prev, id, false);
  if (t.text.empty() && p.logprobs < 0) t.text = piece;
  const std::string released = s.text->push(piece);
  ++s.generated;
  s.prev = id;
  {
    std::lock_guard<std::mutex> lk(job.channel->mu);
    if (s.generated == 1) job.out.first_token_seconds = now_seconds() - job.submitted_at;
    job.out.text += released;
    job.out.tokens.push_back(std::move(t));
    job.channel->cv.notify_all();
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    stats_.generated_tokens++;
  }
  if (s.text->stopped())
    finish(s, Finish::Stop);
  else if (s.generated >= p.max_tokens || s.state->pos() >= s.state->capacity())
    finish(s, Finish::Length);
  else
    s.next = id;
}

void Scheduler::finish(Slot& s, Finish why, const std::string& error) {
  std::shared_ptr<Job> job = std::move(s.job);
  s.job.reset();
  const std::string rest = s.text && why != Finish::Error ? s.text->flush() : std::string();
  s.sampler.reset();
  s.text.reset();
  if (!job) return;
  {
    std::lock_guard<std::mutex> lk(mu_);
    stats_.finished[static_cast<int>(why)]++;
    stats_.busy_slots--;
    running_.erase(job);
  }
  std::lock_guard<std::mutex> lk(job->channel->mu);
  job->out.text += rest;
  job->out.finished = true;
  job->out.finish = why;
  job->out.error = error;
  job->channel->cv.notify_all();
}

}  // namespace lc::server
