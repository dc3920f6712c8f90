// Owning, 64-byte aligned, zero-initialised buffer. Allocated once (model load, session
// creation); never in the decode loop. Large buffers (>= 1 MiB) come from anonymous mmap, whose
// pages are zero and only become resident when first written: a KV cache sized for a long
// context costs memory only as it fills.
#pragma once
#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace lc {

template <typename T>
class AlignedBuffer {
 public:
  static constexpr size_t kAlign = 64;
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t n) { resize(n); }
  ~AlignedBuffer() { release(); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& o) noexcept
      : data_(o.data_), size_(o.size_), mapped_bytes_(o.mapped_bytes_) {
    o.data_ = nullptr;
    o.size_ = 0;
    o.mapped_bytes_ = 0;
  }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(mapped_bytes_, o.mapped_bytes_);
    return *this;
  }
  // Discards old contents; the new buffer is zeroed.
  void resize(size_t n) {
    release();
    if (n == 0) return;
    size_t bytes = (n * sizeof(T) + kAlign - 1) / kAlign * kAlign;
    if (bytes >= kMmapThreshold) {
      void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      data_ = static_cast<T*>(p);
      mapped_bytes_ = bytes;
    } else {
      data_ = static_cast<T*>(std::aligned_alloc(kAlign, bytes));
      if (!data_) throw std::bad_alloc();
      std::memset(static_cast<void*>(data_), 0, bytes);
    }
    size_ = n;
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(T); }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  static constexpr size_t kMmapThreshold = size_t{1} << 20;
  void release() {
    if (mapped_bytes_)
      ::munmap(static_cast<void*>(data_), mapped_bytes_);
    else
      std::free(data_);
    data_ = nullptr;
    size_ = 0;
    mapped_bytes_ = 0;
  }
  T* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_bytes_ = 0;  // nonzero when data_ came from mmap
};

}  // namespace lc
