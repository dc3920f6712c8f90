// A minimal PNG encoder: 8-bit RGB, one IDAT chunk holding the zlib-compressed scanlines
// (filter 0), CRC-32 per chunk (PNG spec §5.5). Plots are mostly flat colour, so deflate shrinks
// them ~100x (an uncompressed 1000x560 plot is 1.7 MB).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lc {

// CRC-32 (ISO 3309, polynomial 0xEDB88320 reflected), as PNG chunks use; zlib computes it.
uint32_t crc32(const uint8_t* data, size_t n, uint32_t crc = 0);
// A zlib stream (RFC 1950, deflate at the best compression level) holding `data`.
std::vector<uint8_t> zlib_compress(const uint8_t* data, size_t n);

// An RGB image, row-major, 3 bytes per pixel.
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // [height, width, 3]
  Image(int w, int h, uint32_t fill = 0xFFFFFF);
  void set(int x, int y, uint32_t color);  // 0xRRGGBB; ignores points outside the image
};

std::vector<uint8_t> encode_png(const Image& img);
// Writes atomically (temporary file + rename); throws lc::Error naming the path.
void write_png(const std::string& path, const Image& img);

}  // namespace lc
