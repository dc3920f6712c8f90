// A 5x7 bitmap font for printable ASCII (32..126), drawn for this project, for plot labels.
#pragma once
#include <cstdint>
#include <string>

#include "eval/png.h"

namespace lc {

constexpr int kGlyphW = 5, kGlyphH = 7, kGlyphAdvance = 6;

// The 7 rows of a glyph, top first; bit 4 is the leftmost column. Characters outside 32..126
// give '?'.
const uint8_t* glyph_rows(char c);

// Width in pixels of `text` drawn at `scale`.
int text_width(const std::string& text, int scale);
// Draws text with its top-left corner at (x, y). vertical: rotated 90° counter-clockwise,
// reading bottom to top, with (x, y) the bottom-left corner of the rotated text.
void draw_text(Image& img, int x, int y, const std::string& text, uint32_t color, int scale,
               bool vertical = false);

}  // namespace lc
