// Read-only memory mapping of a whole file. Weights are used in place from the mapping.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace lc {

class MappedFile {
 public:
  MappedFile() = default;
  // Throws lc::Error naming the path when the file cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Tells the kernel the mapped bytes [p, p+n) are no longer needed, so their pages leave this
  // process's resident set (the file is unchanged; a later read faults them back in). Only whole
  // pages inside the range are dropped; ranges outside the mapping are ignored.
  void drop_pages(const void* p, size_t n) const;

 private:
  void release();
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace lc
