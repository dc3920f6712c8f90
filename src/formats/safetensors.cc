#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "core/error.h"
#include "formats/json.h"

namespace lc {

namespace {
constexpr uint64_t kMaxHeader = uint64_t{100} << 20;
constexpr int64_t kMaxElements = int64_t{1} << 48;
}  // namespace

std::vector<SafetensorsTensor> parse_safetensors(const uint8_t* data, size_t size,
                                                 const std::string& name) {
  if (size < 8) fail(name, ": safetensors file is ", size, " bytes, too small for a header");
  uint64_t n;
  std::memcpy(&n, data, 8);
  if (n > size - 8 || n > kMaxHeader)
    fail(name, ": safetensors header length ", n, " exceeds the file (", size,
         " bytes) or the 100 MiB limit");
  const Json root = parse_json(std::string_view(reinterpret_cast<const char*>(data + 8), n), name);
  if (!root.is_object()) fail(name, ": safetensors header must be a JSON object");
  const uint8_t* base = data + 8 + n;
  const uint64_t data_bytes = size - 8 - n;
  std::vector<SafetensorsTensor> out;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [tname, v] : root.members()) {
    if (tname == "__metadata__") continue;
    const std::string what = name + ": tensor '" + tname + "'";
    if (!v.is_object()) fail(what, " must be a JSON object");
    const Json* dt = v.find("dtype");
    const Json* shape = v.find("shape");
    const Json* offs = v.find("data_offsets");
    if (!dt || !dt->is_string() || !shape || !shape->is_array() || !offs || !offs->is_array() ||
        offs->items().size() != 2)
      fail(what, " needs dtype (string), shape (array) and data_offsets ([begin, end])");
    SafetensorsTensor t;
    t.name = tname;
    if (dt->str() == "F32")
      t.dtype = DType::F32;
    else if (dt->str() == "F16")
      t.dtype = DType::F16;
    else if (dt->str() == "BF16")
      t.dtype = DType::BF16;
    else
      fail(what, " has dtype ", dt->str(), "; supported: F32, F16, BF16");
    int64_t numel = 1;
    for (const Json& d : shape->items()) {
      if (!d.is_int() || d.integer() < 0 || d.integer() > kMaxElements ||
          (d.integer() > 0 && numel > kMaxElements / d.integer()))
        fail(what, " has a bad shape entry (expected non-negative integers of sane size)");
      t.shape.push_back(d.integer());
      numel *= d.integer();
    }
    const Json& b = offs->items()[0];
    const Json& e = offs->items()[1];
    if (!b.is_int() || !e.is_int() || b.integer() < 0 || e.integer() < b.integer())
      fail(what, " has bad data_offsets (expected 0 <= begin <= end)");
    const uint64_t begin = static_cast<uint64_t>(b.integer()),
                   end = static_cast<uint64_t>(e.integer());
    if (end > data_bytes)
      fail(what, " data [", begin, ", ", end, ") runs past the end of the file (", data_bytes,
           " data bytes)");
    t.bytes = end - begin;
    if (t.bytes != static_cast<uint64_t>(numel) * dtype_size(t.dtype))
      fail(what, " has ", t.bytes, " bytes but dtype ", dt->str(), " x shape needs ",
           static_cast<uint64_t>(numel) * dtype_size(t.dtype));
    t.data = base + begin;
    ranges.emplace_back(begin, end);
    out.push_back(std::move(t));
  }
  std::vector<size_t> order(out.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ranges[a] < ranges[b]; });
  uint64_t expect = 0;
  for (size_t i : order) {
    if (ranges[i].first < expect)
      fail(name, ": tensor '", out[i].name, "' overlaps the previous tensor's bytes");
    if (ranges[i].first > expect)
      fail(name, ": tensor data is not contiguous: a gap before tensor '", out[i].name, "'");
    expect = ranges[i].second;
  }
  if (expect != data_bytes)
    fail(name, ": ", data_bytes - expect, " bytes after the last tensor are not covered");
  return out;
}

}  // namespace lc
