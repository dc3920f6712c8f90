#include "eval/plot_png.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "eval/font5x7.h"

namespace lc {

namespace {

constexpr uint32_t kPalette[] = {0x1f77b4, 0xd62728, 0x2ca02c, 0xff7f0e, 0x9467bd,
                                 0x8c564b, 0xe377c2, 0x17becf, 0x7f7f7f, 0xbcbd22};
constexpr uint32_t kAxis = 0x000000, kGrid = 0xe6e6e6, kMark = 0x999999;

void dot(Image& img, int x, int y, uint32_t color, int r) {
  for (int dy = -r; dy <= r; ++dy)
    for (int dx = -r; dx <= r; ++dx) img.set(x + dx, y + dy, color);
}

// Bresenham line, clipped to the box [x0c, x1c] x [y0c, y1c] point by point; `thick` adds a
// one-pixel border around each point; `dash` > 0 skips every other run of that many pixels.
struct Clip {
  int x0, y0, x1, y1;
};
void line(Image& img, int xa, int ya, int xb, int yb, uint32_t color, const Clip& clip, bool thick,
          int dash = 0) {
  int dx = std::abs(xb - xa), dy = -std::abs(yb - ya);
  int sx = xa < xb ? 1 : -1, sy = ya < yb ? 1 : -1, err = dx + dy, step = 0;
  for (;;) {
    bool on = dash == 0 || (step / dash) % 2 == 0;
    if (on && xa >= clip.x0 && xa <= clip.x1 && ya >= clip.y0 && ya <= clip.y1)
      dot(img, xa, ya, color, thick ? 1 : 0);
    if (xa == xb && ya == yb) break;
    int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      xa += sx;
    }
    if (e2 <= dx) {
      err += dx;
      ya += sy;
    }
    ++step;
  }
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> out;
  if (!(hi > lo) || target < 1) return out;
  double raw = (hi - lo) / target, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    out.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  return out;
}

std::string tick_label(double v) {
  char buf[32];
  double a = std::fabs(v);
  if (a >= 1e6)
    std::snprintf(buf, sizeof buf, "%gM", std::round(v / 1e4) / 100);
  else if (a >= 1e3 && std::fmod(a, 100) == 0)
    std::snprintf(buf, sizeof buf, "%gK", v / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%g", std::round(v * 1e4) / 1e4);
  return buf;
}

Image render_line_plot(const PlotSpec& spec, const std::vector<PlotSeries>& series) {
  Image img(spec.width, spec.height);
  // Data range.
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (const PlotSeries& s : series) {
    check(s.x.size() == s.y.size(), "plot: series '", s.label, "' has ", s.x.size(), " x and ",
          s.y.size(), " y values");
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i]) || !std::isfinite(s.x[i])) continue;
      if (spec.log2_x && s.x[i] <= 0) continue;
      xlo = std::min(xlo, s.x[i]);
      xhi = std::max(xhi, s.x[i]);
      ylo = std::min(ylo, s.y[i]);
      yhi = std::max(yhi, s.y[i]);
    }
  }
  if (!(xhi >= xlo)) xlo = 0, xhi = 1, ylo = 0, yhi = 1;
  if (spec.x_from_zero && !spec.log2_x && xlo > 0) xlo = 0;
  if (spec.y_max > spec.y_min) ylo = spec.y_min, yhi = spec.y_max;
  if (yhi - ylo < 1e-12) ylo -= 0.5, yhi += 0.5;
  if (!(spec.y_max > spec.y_min)) {
    double pad = 0.05 * (yhi - ylo);
    ylo -= pad;
    yhi += pad;
  }
  auto fx = [&](double v) { return spec.log2_x ? std::log2(v) : v; };
  double fxlo = fx(xlo), fxhi = fx(xhi);
  if (fxhi - fxlo < 1e-12) fxlo -= 0.5, fxhi += 0.5;

  // Layout: left margin for y ticks and label, right for the legend.
  int legend_w = 0;
  for (const PlotSeries& s : series) legend_w = std::max(legend_w, text_width(s.label, 1));
  const int left = 70, top = 40, bottom = 50, right = legend_w + 50;
  const Clip box{left, top, spec.width - right, spec.height - bottom};
  check(box.x1 - box.x0 > 50 && box.y1 - box.y0 > 50, "plot: ", spec.width, "x", spec.height,
        " is too small for the labels");
  auto px = [&](double v) {
    return box.x0 +
           static_cast<int>(std::lround((fx(v) - fxlo) / (fxhi - fxlo) * (box.x1 - box.x0)));
  };
  auto py = [&](double v) {
    return box.y1 - static_cast<int>(std::lround((v - ylo) / (yhi - ylo) * (box.y1 - box.y0)));
  };

  // Grid and ticks.
  std::vector<double> xt;
  if (spec.log2_x) {
    for (double e = std::ceil(fxlo - 1e-9); e <= fxhi + 1e-9; e += 1) xt.push_back(std::exp2(e));
  } else {
    xt = nice_ticks(xlo, xhi, 8);
  }
  for (double v : xt) {
    int x = px(v);
    line(img, x, box.y0, x, box.y1, kGrid, box, false);
    line(img, x, box.y1, x, box.y1 + 4, kAxis, {0, 0, spec.width, spec.height}, false);
    std::string t = tick_label(v);
    draw_text(img, x - text_width(t, 1) / 2, box.y1 + 8, t, kAxis, 1);
  }
  for (double v : nice_ticks(ylo, yhi, 6)) {
    int y = py(v);
    line(img, box.x0, y, box.x1, y, kGrid, box, false);
    line(img, box.x0 - 4, y, box.x0, y, kAxis, {0, 0, spec.width, spec.height}, false);
    std::string t = tick_label(v);
    draw_text(img, box.x0 - 8 - text_width(t, 1), y - kGlyphH / 2, t, kAxis, 1);
  }
  for (double v : spec.x_marks)
    if ((!spec.log2_x || v > 0) && fx(v) >= fxlo && fx(v) <= fxhi)
      line(img, px(v), box.y0, px(v), box.y1, kMark, box, false, 4);
  // Axes and labels.
  const Clip all{0, 0, spec.width - 1, spec.height - 1};
  line(img, box.x0, box.y1, box.x1, box.y1, kAxis, all, false);
  line(img, box.x0, box.y0, box.x0, box.y1, kAxis, all, false);
  draw_text(img, (box.x0 + box.x1 - text_width(spec.title, 2)) / 2, 12, spec.title, kAxis, 2);
  draw_text(img, (box.x0 + box.x1 - text_width(spec.x_label, 1)) / 2, spec.height - 20,
            spec.x_label, kAxis, 1);
  draw_text(img, 14, (box.y0 + box.y1 + text_width(spec.y_label, 1)) / 2, spec.y_label, kAxis, 1,
            /*vertical=*/true);

  // Series and legend.
  for (size_t k = 0; k < series.size(); ++k) {
    const PlotSeries& s = series[k];
    const uint32_t color = kPalette[k % (sizeof kPalette / sizeof kPalette[0])];
    bool have_prev = false;
    int x0 = 0, y0 = 0;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i]) || (spec.log2_x && s.x[i] <= 0)) {
        have_prev = false;
        continue;
      }
      int x1 = px(s.x[i]), y1 = py(std::clamp(s.y[i], ylo - (yhi - ylo), yhi + (yhi - ylo)));
      if (have_prev) line(img, x0, y0, x1, y1, color, box, true);
      if (spec.markers && x1 >= box.x0 && x1 <= box.x1 && y1 >= box.y0 && y1 <= box.y1)
        dot(img, x1, y1, color, 3);
      x0 = x1, y0 = y1, have_prev = true;
    }
    const int ly = box.y0 + 10 + static_cast<int>(k) * 16, lx = box.x1 + 12;
    line(img, lx, ly + 3, lx + 20, ly + 3, color, all, true);
    draw_text(img, lx + 26, ly, s.label, kAxis, 1);
  }
  return img;
}

}  // namespace lc
