#include "server/http_server.h"

#include <httplib.h>
#include <malloc.h>

#include <chrono>
#include <ctime>
#include <sstream>

#include "core/error.h"
#include "core/timer.h"

namespace lc::server {

namespace {

const char* kJson = "application/json";

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(error_json(e), kJson);
}

// The jobs of one request and what its stream has sent so far.
struct RequestJobs {
  std::shared_ptr<Channel> ch = std::make_shared<Channel>();
  std::vector<std::shared_ptr<Job>> jobs;
  ApiRequest req;
  ResponseId rid;
  size_t sent_text = 0, sent_tokens = 0;
  bool opened = false;
  double last_write = 0;

  bool all_finished() const {
    for (const auto& j : jobs)
      if (!j->out.finished) return false;
    return true;
  }
  void cancel() {
    for (const auto& j : jobs) j->cancel.store(true);
  }
  std::vector<const JobOutput*> outputs() const {
    std::vector<const JobOutput*> v;
    for (const auto& j : jobs) v.push_back(&j->out);
    return v;
  }
};

// An ended job that produced no normal response: the error a client gets instead.
std::optional<ApiError> failure(const JobOutput& o, double timeout) {
  switch (o.finish) {
    case Finish::Error:
      return ApiError(500, "server_error", "generation failed: " + o.error);
    case Finish::Cancelled:
      return ApiError(503, "server_error",
                      "the server is shutting down; the request was cancelled");
    case Finish::Timeout: {
      std::ostringstream m;
      m << "the request took longer than its timeout of " << timeout << " s";
      return ApiError(408, "timeout", m.str());
    }
    default:
      return std::nullopt;
  }
}

const char* endpoint_label(const std::string& path) {
  for (const char* p : {"/v1/completions", "/v1/chat/completions", "/v1/models", "/health",
                        "/metrics", "/completions", "/chat/completions", "/models"})
    if (path == p) return p;
  return "other";
}

}  // namespace

bool same_secret(const std::string& a, const std::string& b) {
  // Every byte of the longer string is looked at whatever the contents; lengths are folded in.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

HttpServer::HttpServer(Scheduler& sched, const ServedModel& model, const HttpOptions& opt)
    : sched_(sched), model_(model), opt_(opt), svr_(std::make_unique<httplib::Server>()) {
  const size_t threads = opt.http_threads > 0
                             ? static_cast<size_t>(opt.http_threads)
                             : static_cast<size_t>(sched.slots() + opt.limits.max_prompts + 16);
  svr_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr_->set_payload_max_length(opt.max_body_bytes);
  const auto rt = std::chrono::duration<double>(opt.read_timeout_seconds);
  svr_->set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(rt));
  svr_->set_write_timeout(std::chrono::seconds(30));
  svr_->set_keep_alive_timeout(5);
  routes();
}

HttpServer::~HttpServer() = default;

void HttpServer::bind() {
  if (opt_.port == 0) {
    port_ = svr_->bind_to_any_port(opt_.host);
    check(port_ > 0, "serve: cannot bind to ", opt_.host, " (any port)");
  } else {
    check(svr_->bind_to_port(opt_.host, opt_.port), "serve: cannot bind to ", opt_.host, ":",
          opt_.port, " (in use, or not an address of this machine?)");
    port_ = opt_.port;
  }
}

void HttpServer::listen() { svr_->listen_after_bind(); }

void HttpServer::stop() { svr_->stop(); }

void HttpServer::count(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> lk(mu_);
  requests_[{endpoint, status}]++;
}

void HttpServer::routes() {
  using httplib::Request;
  using httplib::Response;
  svr_->set_logger([this](const Request& req, const Response& res) {
    count(endpoint_label(req.path), res.status);
    // A long conversation's request (the whole history, re-sent each turn) leaves its JSON,
    // rendered text and token ids in this connection thread's malloc arena; give large ones
    // back so that the resident set follows the (bounded) caches, not the largest request.
    if (req.body.size() > (4u << 10)) malloc_trim(0);
  });
  svr_->set_pre_routing_handler([this](const Request& req, Response& res) {
    if (opt_.api_key.empty() || req.path == "/health")
      return httplib::Server::HandlerResponse::Unhandled;
    std::string given = req.get_header_value("Authorization");
    const std::string bearer = "Bearer ";
    given = given.rfind(bearer, 0) == 0 ? given.substr(bearer.size()) : std::string();
    if (same_secret(given, opt_.api_key)) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, ApiError(401, "authentication_error",
                             "missing or wrong API key (expected the header "
                             "'Authorization: Bearer KEY' with the server's --api-key)",
                             {}, "invalid_api_key"));
    return httplib::Server::HandlerResponse::Handled;
  });
  svr_->set_error_handler([this](const Request& req, Response& res) {
    if (!res.body.empty()) return;
    std::string msg;
    std::string type = "invalid_request_error";
    switch (res.status) {
      case 404:
        msg = "no such endpoint: " + req.method + " " + req.path;
        break;
      case 405:
        msg = "method " + req.method + " not allowed on " + req.path;
        break;
      case 413:
        msg = "the request body is larger than the server's limit of " +
              std::to_string(opt_.max_body_bytes) + " bytes";
        break;
      case 414:
        msg = "the request URI is too long";
        break;
      case 400:
        msg = "malformed HTTP request";
        break;
      default:
        msg = "HTTP error " + std::to_string(res.status);
        type = res.status >= 500 ? "server_error" : type;
    }
    res.set_content(error_json(ApiError(res.status, type, msg)), kJson);
  });
  svr_->set_exception_handler([](const Request&, Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, ApiError(500, "server_error", "internal error: " + what));
  });

  svr_->Get("/health", [this](const Request&, Response& res) {
    if (sched_.draining()) {
      send_error(res, ApiError(503, "server_error", "shutting down"));
      return;
    }
    res.set_content("{\"status\":\"ok\"}", kJson);
  });
  svr_->Get("/metrics", [this](const Request&, Response& res) {
    res.set_content(metrics(), "text/plain; version=0.0.4");
  });
  auto models = [this](const Request&, Response& res) {
    res.set_content(models_json(model_, sched_), kJson);
  };
  svr_->Get("/v1/models", models);
  svr_->Get("/models", models);

  auto generate = [this](const Request& req, Response& res, bool chat) {
    auto rj = std::make_shared<RequestJobs>();
    std::vector<JobParams> params;
    try {
      rj->req = parse_request(req.body, chat, opt_.limits);
      params = make_jobs(rj->req, model_, sched_, opt_.jobs);
    } catch (const ApiError& e) {
      send_error(res, e);
      return;
    }
    for (auto& p : params) rj->jobs.push_back(std::make_shared<Job>(std::move(p), rj->ch));
    for (const auto& j : rj->jobs) {
      const Scheduler::Submitted s = sched_.submit(j);
      if (s == Scheduler::Submitted::Ok) continue;
      rj->cancel();
      if (s == Scheduler::Submitted::QueueFull) {
        res.set_header("Retry-After", "1");
        send_error(res, ApiError(429, "rate_limit_error",
                                 "the server is busy: every slot is taken and the queue is full "
                                 "(--max-queue); retry later"));
      } else {
        send_error(res, ApiError(503, "server_error", "the server is shutting down"));
      }
      return;
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      rj->rid.id = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(++next_id_);
    }
    rj->rid.created = static_cast<int64_t>(std::time(nullptr));
    const double timeout = params.empty() ? 0 : rj->jobs[0]->params.timeout_seconds;
    if (!rj->req.stream) {
      std::unique_lock<std::mutex> lk(rj->ch->mu);
      rj->ch->cv.wait(lk, [&] { return rj->all_finished(); });
      for (const auto& j : rj->jobs)
        if (auto e = failure(j->out, timeout)) {
          send_error(res, *e);
          return;
        }
      res.set_content(response_json(rj->req, model_, rj->rid, rj->outputs()), kJson);
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    rj->last_write = now_seconds();
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, rj, timeout](size_t, httplib::DataSink& sink) {
          std::string ev;
          bool fin = false;
          {
            std::unique_lock<std::mutex> lk(rj->ch->mu);
            const JobOutput& o = rj->jobs[0]->out;
            rj->ch->cv.wait_for(lk, std::chrono::milliseconds(500), [&] {
              return o.finished || o.text.size() > rj->sent_text ||
                     (rj->req.logprobs >= 0 && o.tokens.size() > rj->sent_tokens);
            });
            fin = o.finished;
            if (rj->req.chat && !rj->opened)
              ev += stream_event(rj->req, model_, rj->rid, o, &rj->sent_text, &rj->sent_tokens,
                                 false, true);
            rj->opened = true;
            const std::optional<ApiError> failed = fin ? failure(o, timeout) : std::nullopt;
            if (failed) {
              ev += "data: " + error_json(*failed) + "\n\n";
              ev += "data: [DONE]\n\n";
            } else {
              ev += stream_event(rj->req, model_, rj->rid, o, &rj->sent_text, &rj->sent_tokens, fin,
                                 false);
              if (fin) ev += stream_end(rj->req, model_, rj->rid, rj->outputs());
            }
          }
          // An SSE comment now and then while nothing is produced (a long prompt): it also
          // finds a client that went away.
          if (ev.empty() && now_seconds() - rj->last_write > 5) ev = ": keep-alive\n\n";
          if (!ev.empty()) {
            if (!sink.write(ev.data(), ev.size())) {
              rj->cancel();
              return false;
            }
            rj->last_write = now_seconds();
          }
          if (fin) sink.done();
          return true;
        },
        [rj](bool ok) {
          if (!ok) rj->cancel();
        });
  };
  svr_->Post("/v1/completions",
             [generate](const Request& q, Response& r) { generate(q, r, false); });
  svr_->Post("/completions", [generate](const Request& q, Response& r) { generate(q, r, false); });
  svr_->Post("/v1/chat/completions",
             [generate](const Request& q, Response& r) { generate(q, r, true); });
  svr_->Post("/chat/completions",
             [generate](const Request& q, Response& r) { generate(q, r, true); });
}

std::string HttpServer::metrics() const {
  const SchedulerStats s = sched_.stats();
  std::ostringstream o;
  auto metric = [&](const char* name, const char* type, const char* help, auto value) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n"
      << name << " " << value << "\n";
  };
  o << "# HELP longctx_http_requests_total HTTP requests by endpoint and status.\n"
       "# TYPE longctx_http_requests_total counter\n";
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& [k, n] : requests_)
      o << "longctx_http_requests_total{endpoint=\"" << k.first << "\",status=\"" << k.second
        << "\"} " << n << "\n";
  }
  o << "# HELP longctx_jobs_total Generations (one per prompt) by how they ended.\n"
       "# TYPE longctx_jobs_total counter\n";
  for (int f = 1; f < 6; ++f)
    o << "longctx_jobs_total{finish=\"" << finish_name(static_cast<Finish>(f)) << "\"} "
      << s.finished[f] << "\n";
  metric("longctx_prompt_tokens_total", "counter", "Prompt tokens computed.", s.prompt_tokens);
  metric("longctx_prompt_tokens_reused_total", "counter",
         "Prompt tokens taken from a slot's cache instead of recomputed.", s.reused_tokens);
  metric("longctx_generated_tokens_total", "counter", "Tokens generated.", s.generated_tokens);
  metric("longctx_decode_tokens_per_second", "gauge",
         "Generated tokens per second over recent scheduler steps (smoothed).",
         s.decode_tokens_per_second);
  metric("longctx_queue_length", "gauge", "Requests waiting for a slot.", s.queued);
  metric("longctx_slots", "gauge", "Sequence slots.", s.slots);
  metric("longctx_slots_busy", "gauge", "Slots running a request.", s.busy_slots);
  metric("longctx_state_bytes", "gauge", "Bytes of every slot's KV cache or recurrent state.",
         s.state_bytes);
  metric("longctx_state_bytes_per_slot", "gauge",
         "Bytes of one slot's KV cache or recurrent state under the server's policy.",
         s.state_bytes_per_slot);
  metric("longctx_kv_bytes_per_token", "gauge",
         "KV-cache bytes per cached token under the server's policy and cache types (--kv-type).",
         s.kv_bytes_per_token);
  metric("longctx_scheduler_steps_total", "counter", "Scheduler steps that ran forwards.", s.steps);
  metric("longctx_forward_seconds_total", "counter", "Seconds spent in scheduler steps.",
         s.busy_seconds);
  metric("longctx_resident_memory_bytes", "gauge", "Resident set size of the process.",
         current_rss_bytes());
  return o.str();
}

}  // namespace lc::server
