// libFuzzer target for the server's request parsing (server/request.h): the input is an HTTP
// body, parsed as a /v1/completions and as a /v1/chat/completions request. It must give a
// checked request or an ApiError with a 4xx status and a JSON error body -- never a crash, a hang
// or a leak, whatever the bytes (invalid UTF-8, deep nesting, huge numbers).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/openai.h"
#include "server/request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  lc::server::RequestLimits lim;
  for (bool chat : {false, true}) {
    try {
      const lc::server::ApiRequest r = lc::server::parse_request(body, chat, lim);
      if (r.max_tokens < 0 || r.max_tokens > lim.max_tokens || r.logprobs > lim.max_logprobs)
        std::abort();  // a range the parser promised
    } catch (const lc::server::ApiError& e) {
      if (e.status < 400 || e.status >= 500) std::abort();
      if (lc::server::error_json(e).empty()) std::abort();
    }
  }
  return 0;
}
