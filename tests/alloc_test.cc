// The decode loop must not allocate: this binary counts every operator new, and the test checks
// that prefill and decode steps of a warmed-up session perform none.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "attention/sliding_window.h"
#include "core/thread_pool.h"
#include "formats/llama2c.h"
#include "formats/synthetic.h"
#include "gemma3_model.h"
#include "linear/baseconv.h"
#include "linear/taylor.h"
#include "model/based.h"
#include "model/llama.h"
#include "runtime/batch_session.h"
#include "runtime/session.h"

// The replacement operators below pair malloc with free consistently; GCC cannot see that once
// it inlines them into gtest's `new TestClass` and warns about a mismatch.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
// The nothrow forms too (std::stable_sort's temporary buffer takes one and frees it with plain
// delete): left to the runtime, they would pair its allocator with the free() above, which ASan
// reports as an alloc-dealloc mismatch in any test of this binary that sorts stably.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace lc {
namespace {

// For each policy and 1-2 threads: a warm-up prefill (first parallel section, lazily
// initialised kernels), then a 12-token prefill block and decode_steps decode steps that must
// not allocate.
void expect_no_allocation(const LlamaModel& m, const std::vector<AttentionConfig>& policies,
                          int64_t ctx, int decode_steps) {
  for (const AttentionConfig& attn : policies)
    for (int threads : {1, 2}) {
      Session s(m, SessionOptions{ctx, threads, 8, attn});
      int toks[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
      s.prefill(toks, 3);
      long before = g_allocations.load();
      s.prefill(toks + 3, 12);
      for (int i = 0; i < decode_steps; ++i) s.decode(toks[i % 20]);
      EXPECT_EQ(g_allocations.load() - before, 0) << attn.label() << " threads " << threads;
    }
}

TEST(NoAllocation, DecodeAndPrefillBlocksDoNotAllocate) {
  std::string path = ::testing::TempDir() + "/longctx_alloc_" + std::to_string(::getpid()) + ".bin";
  write_synthetic_llama2c(path, SynthSpec{64, 96, 2, 4, 2, 50, 64, 3, true});
  auto f = load_model_file(path);
  LlamaModel m(*f);
  // Full, and the bounded policies with small windows so that the decode loop runs through the
  // moment the cache fills and wraps the ring several times.
  std::vector<AttentionConfig> policies(5);
  policies[1].policy = AttnPolicy::Lambda;
  policies[1].sinks = 3;
  policies[1].window = 9;
  policies[2].policy = AttnPolicy::Streaming;
  policies[2].sinks = 2;
  policies[2].window = 7;
  policies[3].policy = AttnPolicy::Window;
  policies[3].window = 5;
  policies[4].ceiling = 6;  // full with a distance ceiling
  expect_no_allocation(m, policies, /*ctx=*/0, /*decode_steps=*/40);
}

// Gemma 3: two layer groups (the local window's ring and the global layers' cache under the
// session's policy), each with its own BlockAttention; no allocation either, across ring wraps.
TEST(NoAllocation, Gemma3LayerGroupsDoNotAllocate) {
  auto f = test::gemma3_model(test::Gemma3Spec{});
  LlamaModel m(*f);
  std::vector<AttentionConfig> policies(2);
  policies[1].policy = AttnPolicy::Lambda;
  policies[1].sinks = 3;
  policies[1].window = 9;
  for (const AttentionConfig& attn : policies)
    for (int threads : {1, 2}) {
      Session s(m, SessionOptions{0, threads, 8, attn});
      int toks[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
      s.prefill(toks, 3);
      long before = g_allocations.load();
      s.prefill(toks + 3, 12);
      for (int i = 0; i < 40; ++i) s.decode(toks[i % 20]);
      EXPECT_EQ(g_allocations.load() - before, 0) << s.label() << " threads " << threads;
    }
}

// The BASED mixer cores: decode steps and prefill blocks reuse their preallocated state.
TEST(NoAllocation, BasedMixersDecodeAndPrefillDoNotAllocate) {
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    const TaylorShape ts{4, 16, 8};
    TaylorState taylor(ts);
    std::vector<float> scratch(taylor_scratch_floats(ts, 16, threads));
    std::vector<float> qk(40 * 64, 0.1f), v(40 * 32, 0.2f), out(40 * 64);
    SlidingWindowAttention window(SlidingWindowShape{2, 8, 6}, 2, 4, threads);
    std::vector<float> qkv(40 * 48, 0.3f);
    BaseConvState conv(16);
    std::vector<float> w(48, 0.5f), u(40 * 32, 0.4f);
    // Warm-up (first parallel section, lazily initialised kernels).
    taylor_prefill(pool, taylor, qk.data(), qk.data(), v.data(), 3, 16, out.data(), scratch.data());
    window.forward(pool, 1, qkv.data(), qkv.data() + 16, qkv.data() + 32, 48, 3, out.data());
    long before = g_allocations.load();
    taylor_prefill(pool, taylor, qk.data(), qk.data(), v.data(), 37, 16, out.data(),
                   scratch.data());
    window.forward(pool, 1, qkv.data(), qkv.data() + 16, qkv.data() + 32, 48, 37, out.data());
    baseconv_forward(conv, w.data(), u.data(), u.data() + 16, 32, 37, out.data(), 16);
    for (int i = 0; i < 40; ++i) {
      taylor_decode(pool, taylor, qk.data() + i * 64, qk.data() + i * 64, v.data() + i * 32,
                    out.data(), scratch.data());
      window.forward(pool, 1, qkv.data() + i * 48, qkv.data() + i * 48 + 16,
                     qkv.data() + i * 48 + 32, 48, 1, out.data());
      baseconv_forward(conv, w.data(), u.data() + i * 32, u.data() + i * 32 + 16, 32, 1, out.data(),
                       16);
    }
    EXPECT_EQ(g_allocations.load() - before, 0) << "threads " << threads;
  }
}

// LM-Infinite top-k (its unbounded middle store allocated up front from --ctx, or a bounded
// pool) and TRAMS: no allocation per token either.
TEST(NoAllocation, TopKAndTramsDecodeDoNotAllocate) {
  std::string path =
      ::testing::TempDir() + "/longctx_alloc_topk_" + std::to_string(::getpid()) + ".bin";
  write_synthetic_llama2c(path, SynthSpec{64, 96, 2, 4, 2, 50, 64, 3, true});
  auto f = load_model_file(path);
  LlamaModel m(*f);
  std::vector<AttentionConfig> policies(3);
  for (int i = 0; i < 2; ++i) {
    policies[i].policy = AttnPolicy::Lambda;
    policies[i].sinks = 3;
    policies[i].window = 9;
    policies[i].topk = 2;
    policies[i].topk_from_layer = 1;
  }
  policies[1].middle_pool = 5;
  policies[1].trams_score = TramsScore::Code;
  policies[2].policy = AttnPolicy::Trams;
  policies[2].trams_pool = 12;
  policies[2].trams_recent = 3;
  policies[2].trams_select = 6;
  expect_no_allocation(m, policies, /*ctx=*/100, /*decode_steps=*/80);  // ctx: reserved up front
}

// Caches in bf16 / f16 / q8_0 (heads of 32 so that q8_0 fits): storing rows converts them in
// place and the kernels read them in place -- full, bounded rings, top-k middle store, TRAMS.
TEST(NoAllocation, TypedKvCachesDoNotAllocate) {
  std::string path =
      ::testing::TempDir() + "/longctx_alloc_kv_" + std::to_string(::getpid()) + ".bin";
  write_synthetic_llama2c(path, SynthSpec{64, 96, 2, 2, 1, 50, 64, 3, true});
  auto f = load_model_file(path);
  LlamaModel m(*f);
  std::vector<AttentionConfig> policies(7);
  policies[0].k_type = policies[0].v_type = DType::Q8_0;  // full
  policies[1].policy = AttnPolicy::Streaming;
  policies[1].sinks = 2;
  policies[1].window = 7;
  policies[1].k_type = policies[1].v_type = DType::BF16;
  policies[2].policy = AttnPolicy::Lambda;
  policies[2].sinks = 3;
  policies[2].window = 9;
  policies[2].topk = 2;
  policies[2].topk_from_layer = 1;
  policies[2].k_type = DType::Q8_0;
  policies[2].v_type = DType::F16;
  policies[3] = policies[2];
  policies[3].middle_pool = 5;
  policies[3].k_type = policies[3].v_type = DType::Q8_0;
  policies[4].policy = AttnPolicy::Trams;
  policies[4].trams_pool = 12;
  policies[4].trams_recent = 3;
  policies[4].trams_select = 6;
  policies[4].k_type = policies[4].v_type = DType::Q8_0;
  // q4 (KIVI): groups close in the decode loop; full and a ring.
  policies[5].k_type = policies[5].v_type = DType::Q4_1;
  policies[6] = policies[1];
  policies[6].k_type = policies[6].v_type = DType::Q4_1;
  expect_no_allocation(m, policies, /*ctx=*/100, /*decode_steps=*/80);  // ctx: reserved up front
}

// The one Session over a BASED model: prefill blocks, decode steps and (after its first call)
// forward_all, the evaluations' scoring step, allocate nothing.
TEST(NoAllocation, BasedSessionPrefillDecodeAndScoringDoNotAllocate) {
  auto based = synthetic_based(based_preset("tiny"), 5);
  BasedModel bm(*based);
  int toks[40];
  for (int i = 0; i < 40; ++i) toks[i] = (i * 7 + 3) % 200;
  for (int threads : {1, 2}) {
    SessionOptions so;
    so.n_threads = threads;
    so.block_tokens = 16;
    Session s(bm, so);
    s.prefill(toks, 3);
    s.forward_all(toks, 5);  // allocates its [block, vocab] buffer once
    long before = g_allocations.load();
    s.prefill(toks + 3, 37);
    for (int i = 0; i < 50; ++i) s.decode(toks[i % 40]);
    for (int i = 0; i < 3; ++i) s.forward_all(toks + i * 10, 10);
    EXPECT_EQ(g_allocations.load() - before, 0) << "BASED threads " << threads;
  }
}

// Batched decode: one forward over B sequences (Llama under a full and a bounded policy, and
// BASED) reuses the sessions' preallocated caches, states and shared scratch.
TEST(NoAllocation, BatchedDecodeStepsDoNotAllocate) {
  std::string path =
      ::testing::TempDir() + "/longctx_alloc_batch_" + std::to_string(::getpid()) + ".bin";
  write_synthetic_llama2c(path, SynthSpec{64, 96, 2, 4, 2, 50, 128, 3, true});
  auto f = load_model_file(path);
  LlamaModel m(*f);
  std::vector<AttentionConfig> policies(3);
  for (int i = 1; i < 3; ++i) {
    policies[i].policy = AttnPolicy::Lambda;
    policies[i].sinks = 3;
    policies[i].window = 9;
  }
  policies[2].topk = 2;  // top-k from a bounded middle pool
  policies[2].topk_from_layer = 1;
  policies[2].middle_pool = 5;
  const int toks[4] = {1, 2, 3, 4};
  for (const AttentionConfig& attn : policies)
    for (int threads : {1, 2}) {
      BatchSession batch(m, SessionOptions{0, threads, 8, attn}, 4);
      for (int64_t s = 0; s < 4; ++s) batch.prefill(s, toks, 1 + s);
      batch.decode(toks);  // warm-up
      long before = g_allocations.load();
      for (int i = 0; i < 30; ++i) batch.decode(toks);
      EXPECT_EQ(g_allocations.load() - before, 0) << attn.label() << " threads " << threads;
    }
  auto based = synthetic_based(based_preset("tiny"), 3);
  BasedModel bm(*based);
  for (int threads : {1, 2}) {
    SessionOptions so;
    so.n_threads = threads;
    so.block_tokens = 8;
    BatchSession batch(bm, so, 4);
    for (int64_t s = 0; s < 4; ++s) batch.prefill(s, toks, 1 + s);
    batch.decode(toks);  // warm-up
    long before = g_allocations.load();
    for (int i = 0; i < 30; ++i) batch.decode(toks);
    EXPECT_EQ(g_allocations.load() - before, 0) << "BASED threads " << threads;
  }
}

}  // namespace
}  // namespace lc
