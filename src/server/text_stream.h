// The text a generation releases to its client, piece by piece: stop strings end it (the stop
// string and everything after it is never sent), and text that might still become a stop string,
// or that ends inside a UTF-8 sequence, is held back until the next pieces decide it.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lc::server {

// Bytes of s that form complete UTF-8 sequences from the start (a trailing lead byte with too
// few continuation bytes is not counted; malformed bytes elsewhere are, so nothing is held
// forever).
size_t utf8_complete_prefix(std::string_view s);

class TextStream {
 public:
  explicit TextStream(std::vector<std::string> stops);
  // Appends a piece; returns the text that is now safe to send (possibly empty).
  std::string push(std::string_view piece);
  // At the end of generation: whatever is still held (unless a stop string ended it).
  std::string flush();
  // A stop string completed: nothing more is released.
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace lc::server
