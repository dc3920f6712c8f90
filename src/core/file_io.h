// Atomic file output: the bytes go to PATH.tmp, which is renamed over PATH only when every write
// and the close succeeded, so an error never leaves a partial file behind.
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace lc {

// Writes the parts, in order, to `path`. On failure removes the temporary file and throws
// lc::Error starting with `what` (a flag or a file name) and naming the path.
void write_file_atomic(const std::string& what, const std::string& path,
                       const std::vector<std::pair<const void*, size_t>>& parts);

}  // namespace lc
