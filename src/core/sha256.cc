#include "core/sha256.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "core/error.h"

namespace lc {

void Sha256::FreeCtx::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  check(ctx_ != nullptr && EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) == 1,
        "sha256: OpenSSL could not set up a SHA-256 digest");
}

void Sha256::update(const void* data, size_t n) {
  check(EVP_DigestUpdate(ctx_.get(), data, n) == 1, "sha256: OpenSSL EVP_DigestUpdate failed");
}

std::array<uint8_t, 32> Sha256::digest() {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  check(EVP_DigestFinal_ex(ctx_.get(), out.data(), &len) == 1 && len == out.size(),
        "sha256: OpenSSL EVP_DigestFinal_ex failed");
  return out;
}

std::string Sha256::hex() {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : digest()) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

std::string sha256_hex(const void* data, size_t n) {
  Sha256 h;
  h.update(data, n);
  return h.hex();
}

std::string sha256_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail("sha256: cannot open '", path, "'");
  Sha256 h;
  std::vector<uint8_t> buf(1 << 20);
  size_t got;
  while ((got = std::fread(buf.data(), 1, buf.size(), f)) > 0) h.update(buf.data(), got);
  bool err = std::ferror(f) != 0;
  std::fclose(f);
  if (err) fail("sha256: error reading '", path, "'");
  return h.hex();
}

std::string sha256_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return sha256_file(path);
  std::vector<std::string> names;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec)) names.push_back(it->path().filename().string());
  if (ec) fail("sha256: cannot list '", path, "': ", ec.message());
  std::sort(names.begin(), names.end());
  std::string lines;
  for (const std::string& n : names) lines += sha256_file(path + "/" + n) + "  " + n + "\n";
  return sha256_hex(lines.data(), lines.size());
}

}  // namespace lc
