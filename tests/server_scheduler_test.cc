// The server's continuous-batching scheduler (server/scheduler.h), driven step by step on the
// embedded default model (models/default, a byte-level Llama): batched sequences produce exactly
// what each produces alone; decode rows advance every step while a long prompt is prefilled in
// chunks (fairness); a finished job's slot is reused by a prompt that extends it (the reused
// continuation equals a full prefill, also after a bounded cache evicted the middle);
// cancellation, timeouts and a full queue free or refuse cleanly; echo log-probabilities equal a
// direct forward's. Also the text stream (stop strings, UTF-8) and the request parser.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "formats/model_file.h"
#include "model/registry.h"
#include "runtime/session.h"
#include "server/http_server.h"
#include "server/request.h"
#include "server/scheduler.h"
#include "server/text_stream.h"
#include "test_util.h"
#include "tokenizer/discover.h"

namespace lc::server {
namespace {

struct Fixture {
  Fixture() {
    file = load_model_file(std::string(LONGCTX_SOURCE_DIR) + "/models/default");
    model = make_model(*file);
    tok = load_tokenizer_for_model("", *file);
  }
  std::unique_ptr<ModelFile> file;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
};

Fixture& fx() {
  static Fixture f;
  return f;
}

SchedulerOptions options(int64_t slots, int64_t block = 16) {
  SchedulerOptions o;
  o.slots = slots;
  o.max_queue = 16;
  o.session.n_threads = 2;
  o.session.block_tokens = block;
  o.session.ctx = 4096;
  return o;
}

std::shared_ptr<Job> make_job(std::vector<int> prompt, int64_t max_tokens, uint64_t seed,
                              float temp = 0.8f) {
  JobParams p;
  p.prompt = std::move(prompt);
  p.max_tokens = max_tokens;
  p.sampler.temperature = temp;
  p.sampler.seed = seed;
  p.logprobs = 0;
  return std::make_shared<Job>(std::move(p), std::make_shared<Channel>());
}

std::vector<int> prompt_of(int64_t n, uint64_t seed) {
  return test::random_tokens(n, 256, seed);  // bytes only (256 = BOS/EOS)
}

void run_until_done(Scheduler& s, const std::vector<std::shared_ptr<Job>>& jobs) {
  for (int i = 0; i < 100000; ++i) {
    bool all = true;
    for (const auto& j : jobs) all = all && j->out.finished;
    if (all) return;
    s.step();
  }
  FAIL() << "jobs did not finish";
}

std::vector<int> ids(const Job& j) {
  std::vector<int> v;
  for (const TokenLogprob& t : j.out.tokens) v.push_back(t.id);
  return v;
}

TEST(ServerScheduler, BatchedJobsEqualEachJobAlone) {
  Fixture& f = fx();
  // 7 jobs over 3 slots: queueing, slot reuse by unrelated prompts, prompts longer and shorter
  // than a block, sampling with distinct seeds.
  const std::vector<int64_t> lens = {5, 40, 1, 17, 33, 16, 70};
  std::vector<std::shared_ptr<Job>> batched;
  Scheduler sched(*f.model, *f.tok, options(3));
  for (size_t i = 0; i < lens.size(); ++i) {
    batched.push_back(make_job(prompt_of(lens[i], 100 + i), 12 + static_cast<int64_t>(i), 7 + i));
    ASSERT_EQ(sched.submit(batched.back()), Scheduler::Submitted::Ok);
  }
  run_until_done(sched, batched);
  for (size_t i = 0; i < lens.size(); ++i) {
    Scheduler alone(*f.model, *f.tok, options(1));
    auto j = make_job(batched[i]->params.prompt, batched[i]->params.max_tokens, 7 + i);
    ASSERT_EQ(alone.submit(j), Scheduler::Submitted::Ok);
    run_until_done(alone, {j});
    EXPECT_EQ(ids(*batched[i]), ids(*j)) << "job " << i;
    EXPECT_EQ(batched[i]->out.text, j->out.text) << "job " << i;
    ASSERT_EQ(batched[i]->out.tokens.size(), j->out.tokens.size());
    for (size_t t = 0; t < j->out.tokens.size(); ++t)
      EXPECT_NEAR(batched[i]->out.tokens[t].logprob, j->out.tokens[t].logprob, 1e-4);
    EXPECT_EQ(batched[i]->out.finish, j->out.finish);
  }
  const SchedulerStats st = sched.stats();
  EXPECT_EQ(st.busy_slots, 0);
  EXPECT_EQ(
      st.finished[static_cast<int>(Finish::Length)] + st.finished[static_cast<int>(Finish::Stop)],
      static_cast<int64_t>(lens.size()));
}

TEST(ServerScheduler, LongPromptDoesNotStallDecoding) {
  Fixture& f = fx();
  Scheduler sched(*f.model, *f.tok, options(3, 16));
  auto a = make_job(prompt_of(4, 1), 200, 1), b = make_job(prompt_of(6, 2), 200, 2);
  ASSERT_EQ(sched.submit(a), Scheduler::Submitted::Ok);
  ASSERT_EQ(sched.submit(b), Scheduler::Submitted::Ok);
  while (a->out.tokens.empty() || b->out.tokens.empty()) sched.step();
  auto big = make_job(prompt_of(400, 3), 5, 3);  // 25 chunks of 16
  ASSERT_EQ(sched.submit(big), Scheduler::Submitted::Ok);
  int prefill_steps = 0;
  while (!big->out.prompt_done) {
    const size_t na = a->out.tokens.size(), nb = b->out.tokens.size();
    sched.step();
    ++prefill_steps;
    if (a->out.finished || b->out.finished) break;
    EXPECT_EQ(a->out.tokens.size(), na + 1) << "step " << prefill_steps;
    EXPECT_EQ(b->out.tokens.size(), nb + 1) << "step " << prefill_steps;
  }
  EXPECT_EQ(prefill_steps, 25);  // one block per step: the budget is one block
  a->cancel = b->cancel = true;
  run_until_done(sched, {a, b, big});
}

TEST(ServerScheduler, ConversationReusesTheSlotCacheEvenAfterEviction) {
  Fixture& f = fx();
  for (const char* policy : {"full", "lambda"}) {
    SchedulerOptions o = options(2);
    if (std::string(policy) == "lambda") {
      o.session.attn.policy = AttnPolicy::Lambda;
      o.session.attn.sinks = 4;
      o.session.attn.window = 48;  // the conversation below is ~150 tokens: the middle is evicted
      o.session.attn.ceiling = 48;
    }
    Scheduler sched(*f.model, *f.tok, o);
    auto first = make_job(prompt_of(60, 5), 30, 5, 0.0f);
    ASSERT_EQ(sched.submit(first), Scheduler::Submitted::Ok);
    run_until_done(sched, {first});
    // The next turn: the prompt, the reply (all but its last token was fed) and new text.
    std::vector<int> next = first->params.prompt;
    for (const TokenLogprob& t : first->out.tokens) next.push_back(t.id);
    for (int t : prompt_of(50, 6)) next.push_back(t);
    auto second = make_job(next, 20, 6, 0.0f);
    ASSERT_EQ(sched.submit(second), Scheduler::Submitted::Ok);
    run_until_done(sched, {second});
    EXPECT_EQ(second->out.reused_tokens, 60 + 30 - 1) << policy;
    EXPECT_EQ(second->out.slot, first->out.slot) << policy;
    // The same prompt from an empty cache.
    o.reuse = false;
    Scheduler fresh(*f.model, *f.tok, o);
    auto ref = make_job(next, 20, 6, 0.0f);
    ASSERT_EQ(fresh.submit(ref), Scheduler::Submitted::Ok);
    run_until_done(fresh, {ref});
    EXPECT_EQ(ref->out.reused_tokens, 0);
    EXPECT_EQ(ids(*second), ids(*ref)) << policy;
    for (size_t t = 0; t < ref->out.tokens.size(); ++t)
      EXPECT_NEAR(second->out.tokens[t].logprob, ref->out.tokens[t].logprob, 1e-4) << policy;
    // A prompt that does not extend the slot's history is prefilled whole.
    auto other = make_job(prompt_of(30, 9), 3, 9, 0.0f);
    ASSERT_EQ(sched.submit(other), Scheduler::Submitted::Ok);
    run_until_done(sched, {other});
    EXPECT_EQ(other->out.reused_tokens, 0);
  }
}

TEST(ServerScheduler, CancelledJobFreesItsSlotForTheQueue) {
  Fixture& f = fx();
  Scheduler sched(*f.model, *f.tok, options(1));
  auto a = make_job(prompt_of(10, 1), 100000, 1), b = make_job(prompt_of(10, 2), 3, 2);
  ASSERT_EQ(sched.submit(a), Scheduler::Submitted::Ok);
  ASSERT_EQ(sched.submit(b), Scheduler::Submitted::Ok);
  for (int i = 0; i < 5; ++i) sched.step();
  EXPECT_FALSE(a->out.finished);
  EXPECT_TRUE(b->out.tokens.empty());
  EXPECT_EQ(sched.stats().queued, 1);
  a->cancel = true;
  run_until_done(sched, {a, b});
  EXPECT_EQ(a->out.finish, Finish::Cancelled);
  EXPECT_EQ(b->out.finish, Finish::Length);
  EXPECT_EQ(b->out.tokens.size(), 3u);
  EXPECT_EQ(sched.stats().busy_slots, 0);
}

TEST(ServerScheduler, FullQueueIsRefusedAndTimeoutsEnd) {
  Fixture& f = fx();
  SchedulerOptions o = options(1);
  o.max_queue = 1;
  Scheduler sched(*f.model, *f.tok, o);
  auto a = make_job(prompt_of(4, 1), 5, 1), b = make_job(prompt_of(4, 2), 5, 2),
       c = make_job(prompt_of(4, 3), 5, 3);
  ASSERT_EQ(sched.submit(a), Scheduler::Submitted::Ok);  // takes the free slot
  ASSERT_EQ(sched.submit(b), Scheduler::Submitted::Ok);  // the queue's one place
  EXPECT_EQ(sched.submit(c), Scheduler::Submitted::QueueFull);
  run_until_done(sched, {a, b});
  JobParams p;
  p.prompt = prompt_of(8, 4);
  p.max_tokens = 1000000;
  p.timeout_seconds = 0.05;
  auto late = std::make_shared<Job>(p, std::make_shared<Channel>());
  ASSERT_EQ(sched.submit(late), Scheduler::Submitted::Ok);
  sched.step();
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  run_until_done(sched, {late});
  EXPECT_EQ(late->out.finish, Finish::Timeout);
  sched.shutdown(0);
  EXPECT_EQ(sched.submit(c), Scheduler::Submitted::ShuttingDown);
}

TEST(ServerScheduler, PromptBeyondAFullCacheIsAnErrorNotACrash) {
  Fixture& f = fx();
  SchedulerOptions o = options(1);
  o.session.ctx = 32;
  Scheduler sched(*f.model, *f.tok, o);
  auto j = make_job(prompt_of(40, 1), 5, 1);
  ASSERT_EQ(sched.submit(j), Scheduler::Submitted::Ok);
  run_until_done(sched, {j});
  EXPECT_EQ(j->out.finish, Finish::Error);
  EXPECT_NE(j->out.error.find("exceeds the context of 32"), std::string::npos) << j->out.error;
  // Generation that reaches the end of the cache stops with "length".
  auto k = make_job(prompt_of(28, 2), 100, 2);
  ASSERT_EQ(sched.submit(k), Scheduler::Submitted::Ok);
  run_until_done(sched, {k});
  EXPECT_EQ(k->out.finish, Finish::Length);
  EXPECT_EQ(k->out.tokens.size(), 5u);  // positions 28..31 fed, the 5th token sampled at 32
}

TEST(ServerScheduler, PoliciesOfDifferentRequestsRunSideBySide) {
  Fixture& f = fx();
  Scheduler sched(*f.model, *f.tok, options(2));
  JobParams p;
  p.prompt = prompt_of(300, 1);  // past the model's trained context of 256
  p.max_tokens = 8;
  p.sampler.temperature = 0;
  p.logprobs = 0;
  AttentionConfig lam;
  lam.policy = AttnPolicy::Lambda;
  lam.sinks = 4;
  lam.window = 64;
  lam.ceiling = 64;
  JobParams q = p;
  q.attn = lam;
  auto full = std::make_shared<Job>(p, std::make_shared<Channel>());
  auto bounded = std::make_shared<Job>(q, std::make_shared<Channel>());
  ASSERT_EQ(sched.submit(full), Scheduler::Submitted::Ok);
  ASSERT_EQ(sched.submit(bounded), Scheduler::Submitted::Ok);
  run_until_done(sched, {full, bounded});
  EXPECT_EQ(bounded->out.finish, Finish::Length);
  // The lambda job equals the same job on a server whose default is lambda.
  SchedulerOptions o = options(1);
  o.session.attn = lam;
  Scheduler lone(*f.model, *f.tok, o);
  auto ref = make_job(p.prompt, 8, 0, 0.0f);
  ASSERT_EQ(lone.submit(ref), Scheduler::Submitted::Ok);
  run_until_done(lone, {ref});
  EXPECT_EQ(ids(*bounded), ids(*ref));
  EXPECT_NE(ids(*full), ids(*bounded));  // full attention past 256 positions is another model
}

TEST(ServerScheduler, EchoLogprobsEqualADirectForward) {
  Fixture& f = fx();
  Scheduler sched(*f.model, *f.tok, options(2, 16));
  JobParams p;
  p.prompt = prompt_of(45, 3);
  p.max_tokens = 0;
  p.echo = true;
  p.logprobs = 2;
  auto j = std::make_shared<Job>(p, std::make_shared<Channel>());
  ASSERT_EQ(sched.submit(j), Scheduler::Submitted::Ok);
  run_until_done(sched, {j});
  ASSERT_EQ(j->out.prompt.size(), p.prompt.size());
  EXPECT_FALSE(j->out.prompt[0].scored);
  SessionOptions so;
  so.ctx = 4096;
  Session s(*f.model, so);
  const int64_t V = s.vocab_size(), n = static_cast<int64_t>(p.prompt.size());
  std::vector<float> logits(static_cast<size_t>(n * V));
  s.all_logits(p.prompt.data(), n, logits.data());
  for (int64_t i = 1; i < n; ++i) {
    const float* row = logits.data() + (i - 1) * V;
    double mx = row[0], sum = 0;
    for (int64_t k = 0; k < V; ++k) mx = std::max<double>(mx, row[k]);
    for (int64_t k = 0; k < V; ++k) sum += std::exp(row[k] - mx);
    const double want = row[p.prompt[i]] - mx - std::log(sum);
    ASSERT_TRUE(j->out.prompt[i].scored);
    EXPECT_NEAR(j->out.prompt[i].logprob, want, 1e-4) << i;
    ASSERT_EQ(j->out.prompt[i].top.size(), 2u);
    EXPECT_GE(j->out.prompt[i].top[0].second, j->out.prompt[i].logprob - 1e-6);
  }
  EXPECT_EQ(j->out.finish, Finish::Length);
  EXPECT_TRUE(j->out.tokens.empty());
}

TEST(ServerTextStream, StopStringsAcrossPiecesAndUtf8) {
  TextStream t({"END", "\n\n"});
  std::string out;
  for (const char* p : {"ab", "cE", "N", "x", "yE", "ND", "zz"}) out += t.push(p);
  EXPECT_EQ(out, "abcENxy");
  EXPECT_TRUE(t.stopped());
  EXPECT_EQ(t.flush(), "");
  TextStream u({});
  const std::string euro = "\xE2\x82\xAC";  // U+20AC in three bytes, fed one at a time
  EXPECT_EQ(u.push(euro.substr(0, 1)), "");
  EXPECT_EQ(u.push(euro.substr(1, 1)), "");
  EXPECT_EQ(u.push(euro.substr(2, 1) + "a"), euro + "a");
  TextStream v({"stop"});
  EXPECT_EQ(v.push("x sto"), "x ");
  EXPECT_EQ(v.flush(), "sto");  // never completed: released at the end
  EXPECT_EQ(utf8_complete_prefix("a\xF0\x9F"), 1u);
  EXPECT_EQ(utf8_complete_prefix("\x80\x80"), 2u);  // stray continuation bytes are not held
}

TEST(ServerRequest, FieldsAreCheckedWithTheirNames) {
  RequestLimits lim;
  auto status_param = [&](const std::string& body, bool chat) -> std::pair<int, std::string> {
    try {
      parse_request(body, chat, lim);
    } catch (const ApiError& e) {
      return {e.status, e.param};
    }
    return {200, ""};
  };
  EXPECT_EQ(status_param("{", false).first, 400);
  EXPECT_EQ(status_param("[1]", false).first, 400);
  EXPECT_EQ(status_param(R"({"prompt": 3})", false), (std::pair<int, std::string>{400, "prompt"}));
  EXPECT_EQ(status_param(R"({"prompt": "a", "max_tokens": -1})", false).second, "max_tokens");
  EXPECT_EQ(status_param(R"({"prompt": "a", "max_tokens": 1e30})", false).second, "max_tokens");
  EXPECT_EQ(status_param(R"({"prompt": "a", "temperature": "hot"})", false).second, "temperature");
  EXPECT_EQ(status_param(R"({"prompt": "a", "n": 2})", false).second, "n");
  EXPECT_EQ(status_param(R"({"prompt": "a", "stop": [1]})", false).second, "stop[0]");
  EXPECT_EQ(status_param(R"({"prompt": "a", "logprobs": 99})", false).second, "logprobs");
  EXPECT_EQ(status_param(R"({"prompt": [1, -2]})", false).second, "prompt[1]");
  EXPECT_EQ(status_param(R"({"messages": []})", true).second, "messages");
  EXPECT_EQ(status_param(R"({"messages": [{"role": "bot", "content": "x"}]})", true).second,
            "messages[0].role");
  EXPECT_EQ(status_param(R"({"messages": [{"role": "user", "content": "x"}], "echo": true})", true)
                .second,
            "echo");
  EXPECT_EQ(status_param("{\"prompt\": \"\xff\"}", false).first, 400);  // invalid UTF-8
  // A number beyond double (nlohmann's out_of_range, not a parse_error: found by the fuzzer).
  EXPECT_EQ(status_param(R"({"prompt": "a", "max_tokens": 1e400})", false).first, 400);
  EXPECT_EQ(status_param("4440071737338e6442603406", false).first, 400);
  const ApiRequest r = parse_request(
      R"({"prompt": ["a", "b"], "max_tokens": 3, "temperature": 0, "seed": 5, "stop": "x",
          "logprobs": 1, "echo": true, "attention": "lambda", "user": "ignored"})",
      false, lim);
  EXPECT_EQ(r.prompt_texts.size(), 2u);
  EXPECT_EQ(r.max_tokens, 3);
  EXPECT_EQ(r.sampler.seed, 5u);
  EXPECT_EQ(r.stop, std::vector<std::string>{"x"});
  EXPECT_EQ(r.logprobs, 1);
  EXPECT_EQ(*r.attention, "lambda");
  EXPECT_TRUE(same_secret("key-123", "key-123"));
  EXPECT_FALSE(same_secret("key-123", "key-124"));
  EXPECT_FALSE(same_secret("key-123", "key-1234"));
  EXPECT_FALSE(same_secret("", "k"));
}

}  // namespace
}  // namespace lc::server
