// longctx serve: an OpenAI-compatible HTTP server (docs/server.md) with continuous batching over
// --slots sequences, each bounded by the attention policy.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "attention_flags.h"
#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/timer.h"
#include "model/registry.h"
#include "server/http_server.h"
#include "server/scheduler.h"

namespace lc::cli {

namespace {

const char* kHelp =
    "usage: longctx serve -m MODEL [-z TOKENIZER] [--host H] [--port P] [--slots N] [--ctx N]\n"
    "                     [--api-key KEY] [--max-queue Q] [-t THREADS] [--template FILE]\n"
    "                     [--timeout S] [--max-tokens N] [--max-body BYTES] [--no-reuse]\n"
    "                     [--dtype D] [attention flags]\n"
    "  An OpenAI-compatible server: GET /v1/models, POST /v1/completions,\n"
    "  POST /v1/chat/completions (the model's chat template), GET /health, GET /metrics.\n"
    "  Requests may name their own policy: \"attention\": \"lambda\" (or any --attn item).\n"
    "  --host H        address to bind (default 127.0.0.1: loopback only)\n"
    "  --port P        TCP port (default 8080; 0 = any free port, printed at start-up)\n"
    "  --slots N       sequences decoded together (default 4); memory = slots x per-slot state\n"
    "  --max-queue Q   requests waiting for a slot before 429 (default 64)\n"
    "  --api-key KEY   require 'Authorization: Bearer KEY' (also LONGCTX_API_KEY)\n"
    "  --timeout S     per-request timeout in seconds (default 600)\n"
    "  --max-tokens N  most tokens one request may generate (default 4096)\n"
    "  --max-prompt-tokens N  most prompt tokens (default: the policy's context; unbounded\n"
    "                  policies: 1048576)\n"
    "  --max-body B    largest request body in bytes (default 4194304)\n"
    "  --read-timeout S  drop a client that sends nothing for S seconds mid-request (10)\n"
    "  --prefill-budget N  prompt tokens per scheduler step (default: --block)\n"
    "  --block N       prompt tokens per forward of one sequence (default 64)\n"
    "  --no-reuse      always prefill the whole prompt (no conversation cache reuse)\n"
    "  --dtype D       convert weight matrices at load (default: as stored); bf16 puts\n"
    "                  batched decode on AMX tiles where the CPU has them (docs/perf/server.md)\n";

}  // namespace

int cmd_serve(int argc, char** argv) {
  std::vector<std::string> flags = {"-m",
                                    "-z",
                                    "--host",
                                    "--port",
                                    "--slots",
                                    "--ctx",
                                    "--api-key",
                                    "--max-queue",
                                    "-t",
                                    "--template",
                                    "--timeout",
                                    "--max-tokens",
                                    "--max-body",
                                    "--dtype",
                                    "--block",
                                    "--prefill-budget",
                                    "--max-prompt-tokens",
                                    "--read-timeout"};
  for (const auto& f : attention_value_flags()) flags.push_back(f);
  Args a("serve", flags, {"--help", "--no-reuse"});
  a.parse(argc, argv, 2);
  if (a.has("--help")) {
    std::fputs(kHelp, stdout);
    std::fputs(attention_flags_help().c_str(), stdout);
    return 0;
  }
  server::SchedulerOptions so;
  so.slots = a.integer("--slots", 4, 1, 1024);
  so.max_queue = a.integer("--max-queue", 64, 0, 1 << 20);
  so.session.n_threads = threads_flag(a);
  so.session.ctx = a.integer("--ctx", 0, 1, 1 << 26);
  so.session.block_tokens = a.integer("--block", 64, 1, 4096);
  so.session.attn = parse_attention(a, /*allow_many=*/false).front();
  so.prefill_budget = a.integer("--prefill-budget", 0, 1, 1 << 20);
  so.reuse = !a.has("--no-reuse");
  server::HttpOptions ho;
  ho.host = a.str("--host", "127.0.0.1");
  ho.port = static_cast<int>(a.integer("--port", 8080, 0, 65535));
  const char* env_key = std::getenv("LONGCTX_API_KEY");
  ho.api_key = a.str("--api-key", env_key ? env_key : "");
  ho.max_body_bytes = static_cast<size_t>(a.integer("--max-body", 4 << 20, 1024, 1ll << 32));
  ho.limits.max_tokens = a.integer("--max-tokens", 4096, 1, 1 << 24);
  ho.limits.default_max_tokens = std::min<int64_t>(256, ho.limits.max_tokens);
  ho.jobs.timeout_seconds = a.number("--timeout", 600, 0.001, 1e7);
  ho.read_timeout_seconds = a.number("--read-timeout", 10, 0.001, 3600);
  ho.jobs.max_prompt_tokens = a.integer("--max-prompt-tokens", 1 << 20, 1, 1ll << 40);

  auto file = load_model(a);
  std::optional<ChatTemplateSource> tmpl;
  if (a.has("--template"))
    tmpl = chat_template_for(a, *file);
  else
    tmpl = chat_template_for_model(*file);
  auto model = make_model(*file);
  refuse_attention_flags(a, *model);
  auto tok = load_tokenizer_for(a, *file);
  const std::string id = std::filesystem::path(file->path).filename().string();
  server::ServedModel served(id, *model, *tok, tmpl, so.session.attn);

  // SIGINT/SIGTERM are taken by one thread (sigwait); every other thread blocks them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client gone mid-write is an error return, not a signal

  // A conversation's requests grow every turn (the client re-sends the whole history): blocks of
  // 32 KiB and more (its JSON, rendered text, token ids) are mapped and unmapped, so they go
  // back to the system instead of fragmenting the heap as sizes keep growing.
  mallopt(M_MMAP_THRESHOLD, 32 << 10);
  server::Scheduler sched(*model, *tok, so);
  server::HttpServer http(sched, served, ho);
  http.bind();
  const server::SchedulerStats st = sched.stats();
  std::fprintf(
      stderr,
      "longctx serve: %s on http://%s:%d  (%lld slots x %.2f MiB %s state = %.2f MiB; "
      "context %s; chat template %s; %d threads)\n",
      id.c_str(), ho.host.c_str(), http.bound_port(), static_cast<long long>(so.slots),
      static_cast<double>(st.state_bytes_per_slot) / (1 << 20), sched.label().c_str(),
      static_cast<double>(st.state_bytes) / (1 << 20),
      sched.capacity() == INT64_MAX ? "unbounded" : std::to_string(sched.capacity()).c_str(),
      tmpl ? tmpl->origin.c_str() : "none (chat endpoint refused)", so.session.n_threads);
  std::fflush(stderr);
  sched.start();
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    std::fprintf(stderr, "longctx serve: %s: finishing in-flight requests (up to 10 s)\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
    sched.shutdown(10.0);
    http.stop();
  });
  http.listen();
  // listen() returned: either the waiter stopped it, or the socket failed. Make sure the waiter
  // ends (it is blocked in sigwait unless a signal came).
  if (!sched.draining()) {
    pthread_kill(waiter.native_handle(), SIGTERM);
  }
  waiter.join();
  std::fprintf(stderr, "longctx serve: stopped\n");
  return 0;
}

}  // namespace lc::cli
