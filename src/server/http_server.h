// longctx serve's HTTP side (cpp-httplib, Debian's libcpp-httplib-dev): the OpenAI endpoints,
// /health and /metrics (Prometheus text), API-key checks, size limits and server-sent events.
// Handlers only parse, submit jobs to the Scheduler and write what the jobs produce; a client
// that disconnects mid-stream cancels its jobs.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "server/openai.h"
#include "server/request.h"
#include "server/scheduler.h"

namespace httplib {
class Server;
}

namespace lc::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;      // 0: any free port (bound_port() tells which)
  std::string api_key;  // "" = no authentication
  size_t max_body_bytes = 4 << 20;
  int http_threads = 0;              // connection threads; 0 = slots + max queue + 8
  double read_timeout_seconds = 10;  // a client that sends its request slower is dropped
  RequestLimits limits;
  JobDefaults jobs;
};

class HttpServer {
 public:
  HttpServer(Scheduler& sched, const ServedModel& model, const HttpOptions& opt);
  ~HttpServer();
  // Binds the socket; throws lc::Error naming host and port when it cannot.
  void bind();
  int bound_port() const { return port_; }
  // Serves until stop() (from another thread or a signal handler thread).
  void listen();
  void stop();

  // The Prometheus text of /metrics.
  std::string metrics() const;

 private:
  void count(const std::string& endpoint, int status);
  void routes();

  Scheduler& sched_;
  const ServedModel& model_;
  HttpOptions opt_;
  std::unique_ptr<httplib::Server> svr_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> requests_;  // (endpoint, status) -> count
  int64_t next_id_ = 0;
};

// Constant-time comparison (the time does not depend on where the strings differ).
bool same_secret(const std::string& a, const std::string& b);

}  // namespace lc::server
