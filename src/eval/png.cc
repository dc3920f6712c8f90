#include "eval/png.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "core/file_io.h"

namespace lc {

namespace {

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}

void put_chunk(std::vector<uint8_t>& out, const char type[4], const std::vector<uint8_t>& data) {
  put_be32(out, static_cast<uint32_t>(data.size()));
  size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put_be32(out, crc32(out.data() + start, out.size() - start));
}

}  // namespace

uint32_t crc32(const uint8_t* data, size_t n, uint32_t crc) {
  if (n == 0) return crc;  // zlib returns its initial value (0) for a null buffer
  return static_cast<uint32_t>(::crc32_z(crc, data, n));
}

std::vector<uint8_t> zlib_compress(const uint8_t* data, size_t n) {
  uLongf len = compressBound(static_cast<uLong>(n));
  std::vector<uint8_t> out(len);
  const int rc = compress2(out.data(), &len, n ? data : reinterpret_cast<const Bytef*>(""),
                           static_cast<uLong>(n), Z_BEST_COMPRESSION);
  check(rc == Z_OK, "png: zlib compress2 failed (", rc, ")");
  out.resize(len);
  return out;
}

Image::Image(int w, int h, uint32_t fill) : width(w), height(h) {
  check(w > 0 && h > 0 && w <= 16384 && h <= 16384, "image size ", w, "x", h, " out of range");
  rgb.resize(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) set(x, y, fill);
}

void Image::set(int x, int y, uint32_t color) {
  if (x < 0 || y < 0 || x >= width || y >= height) return;
  uint8_t* p = &rgb[(static_cast<size_t>(y) * width + x) * 3];
  p[0] = static_cast<uint8_t>(color >> 16);
  p[1] = static_cast<uint8_t>(color >> 8);
  p[2] = static_cast<uint8_t>(color);
}

std::vector<uint8_t> encode_png(const Image& img) {
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> ihdr;
  put_be32(ihdr, static_cast<uint32_t>(img.width));
  put_be32(ihdr, static_cast<uint32_t>(img.height));
  ihdr.insert(ihdr.end(),
              {8, 2, 0, 0, 0});  // bit depth 8, RGB, deflate, adaptive filter, no interlace
  put_chunk(out, "IHDR", ihdr);
  // Each scanline starts with its filter type (0 = none).
  const size_t row = static_cast<size_t>(img.width) * 3;
  std::vector<uint8_t> raw;
  raw.reserve((row + 1) * img.height);
  for (int y = 0; y < img.height; ++y) {
    raw.push_back(0);
    raw.insert(raw.end(), img.rgb.begin() + y * row, img.rgb.begin() + (y + 1) * row);
  }
  put_chunk(out, "IDAT", zlib_compress(raw.data(), raw.size()));
  put_chunk(out, "IEND", {});
  return out;
}

void write_png(const std::string& path, const Image& img) {
  std::vector<uint8_t> bytes = encode_png(img);
  write_file_atomic("png", path, {{bytes.data(), bytes.size()}});
}

}  // namespace lc
