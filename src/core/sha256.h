// SHA-256 (FIPS 180-4) through OpenSSL's libcrypto (EVP digest API), for recording which model
// file a result came from.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX; <openssl/evp.h> stays out of this header

namespace lc {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  // Finishes the hash; the object must not be updated afterwards.
  std::array<uint8_t, 32> digest();
  // Lower-case hex of digest().
  std::string hex();

 private:
  struct FreeCtx {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, FreeCtx> ctx_;
};

std::string sha256_hex(const void* data, size_t n);
// Hash of a whole file (read in chunks); throws lc::Error naming the path when it cannot be read.
std::string sha256_file(const std::string& path);
// sha256_file for a file; for a directory (a Hugging Face model), the SHA-256 of the lines
// "<sha256 of file>  <name>\n" over its regular files in name order (not recursive).
std::string sha256_path(const std::string& path);

}  // namespace lc
