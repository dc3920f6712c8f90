// A tiny line-plot renderer for evaluation curves: axes with "nice" ticks, one colored line per
// series, a legend to the right of the plot area, optional vertical reference lines, written as
// PNG through eval/png.h. No external plotting dependency.
#pragma once
#include <string>
#include <vector>

#include "eval/png.h"

namespace lc {

struct PlotSeries {
  std::string label;
  std::vector<double> x, y;  // same length; non-finite y values break the line
};

struct PlotSpec {
  std::string title, x_label, y_label;
  int width = 1000, height = 560;
  bool log2_x = false;          // x axis in log2 scale with ticks at powers of two
  double y_min = 0, y_max = 0;  // y range; equal values = automatic from the data
  std::vector<double> x_marks;  // dashed vertical reference lines (e.g. the trained context)
  bool markers = false;         // draw a small square at each point
  bool x_from_zero = false;     // linear x axis starting at 0 (when the data are >= 0)
};

Image render_line_plot(const PlotSpec& spec, const std::vector<PlotSeries>& series);

// Tick positions between lo and hi at a 1/2/5 x 10^k step, about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target);
// Compact tick label: 12000 -> "12K", 1048576 -> "1.05M", 0.25 -> "0.25".
std::string tick_label(double v);

}  // namespace lc
