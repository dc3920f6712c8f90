#include "tokenizer/proto_reader.h"

#include "core/error.h"

namespace lc {

void ProtoReader::malformed(const std::string& what) const {
  fail(name_, ": malformed protobuf in ", message_, " at byte ", offset(), ": ", what);
}

uint64_t ProtoReader::read_varint() {
  uint64_t value = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos_ >= size_) malformed("varint runs past the end of the message");
    const uint8_t b = data_[pos_++];
    // The 10th byte holds bit 63 only; anything more does not fit 64 bits.
    if (i == 9 && b > 1) malformed("varint longer than 64 bits");
    value |= static_cast<uint64_t>(b & 0x7F) << (7 * i);
    if ((b & 0x80) == 0) return value;
  }
  malformed("varint longer than 10 bytes");
}

void ProtoReader::next_field(uint32_t* field, int* wire) {
  const uint64_t key = read_varint();
  const uint64_t number = key >> 3;
  if (number == 0 || number > 0x1FFFFFFF) {
    malformed("field number " + std::to_string(number) + ", expected 1..2^29-1");
  }
  *field = static_cast<uint32_t>(number);
  *wire = static_cast<int>(key & 7);
  if (*wire != kWireVarint && *wire != kWireFixed64 && *wire != kWireLengthDelimited &&
      *wire != kWireFixed32) {
    malformed("field " + std::to_string(number) + " has wire type " + std::to_string(*wire) +
              ", expected 0, 1, 2 or 5");
  }
}

uint32_t ProtoReader::read_fixed32() {
  if (size_ - pos_ < 4) malformed("fixed32 runs past the end of the message");
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(data_[pos_ + i]) << (8 * i);
  pos_ += 4;
  return v;
}

std::string_view ProtoReader::read_bytes() {
  const uint64_t len = read_varint();
  if (len > size_ - pos_) {
    malformed("length " + std::to_string(len) + " runs past the end of the message (" +
              std::to_string(size_ - pos_) + " bytes left)");
  }
  const std::string_view out(reinterpret_cast<const char*>(data_ + pos_), len);
  pos_ += len;
  return out;
}

ProtoReader ProtoReader::read_message(const char* message) {
  const std::string_view bytes = read_bytes();
  const size_t start = offset() - bytes.size();
  return ProtoReader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), start, name_,
                     message);
}

void ProtoReader::skip(int wire) {
  switch (wire) {
    case kWireVarint:
      read_varint();
      return;
    case kWireFixed64:
      if (size_ - pos_ < 8) malformed("fixed64 runs past the end of the message");
      pos_ += 8;
      return;
    case kWireLengthDelimited:
      read_bytes();
      return;
    case kWireFixed32:
      read_fixed32();
      return;
    default:
      malformed("cannot skip wire type " + std::to_string(wire));
  }
}

void ProtoReader::expect_wire(uint32_t field, int wire, int expected) const {
  if (wire != expected) {
    malformed("field " + std::to_string(field) + " has wire type " + std::to_string(wire) +
              ", expected " + std::to_string(expected));
  }
}

}  // namespace lc
