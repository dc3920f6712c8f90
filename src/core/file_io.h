// Atomic file output: the bytes go to PATH.tmp, which is renamed over PATH only when every write
// and the close succeeded, so an error never leaves a partial file behind.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace lc {

// Writes the parts, in order, to `path`. On failure removes the temporary file and throws
// lc::Error starting with `what` (a flag or a file name) and naming the path. after_part (may be
// empty) is called with the number of parts written so far after each one (for progress).
void write_file_atomic(const std::string& what, const std::string& path,
                       const std::vector<std::pair<const void*, size_t>>& parts,
                       const std::function<void(size_t parts_written)>& after_part = {});

// For outputs written at the end of a long run (train, ppl, passkey, recall, bench): throws
// lc::Error naming `what` and the path now, before any work, when the file could not be created
// later -- its directory is missing or not writable, or the path is an existing directory. An
// empty path (the flag was not given) passes. Nothing is created.
void check_output_file(const std::string& what, const std::string& path);
// The same for an output directory that the run creates if missing (its parent must exist and
// be writable) or fills (it must be a writable directory).
void check_output_dir(const std::string& what, const std::string& dir);

}  // namespace lc
