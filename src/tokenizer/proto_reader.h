// A tiny, bounds-checked reader for the protobuf wire format (enough for SentencePiece's
// ModelProto): varints, length-delimited fields, fixed32/fixed64, and skipping unknown fields.
// https://protobuf.dev/programming-guides/encoding/ . Every read checks the remaining bytes and
// throws lc::Error naming the file, the message and the byte offset.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lc {

enum WireType : int {
  kWireVarint = 0,
  kWireFixed64 = 1,
  kWireLengthDelimited = 2,
  kWireFixed32 = 5,
};

class ProtoReader {
 public:
  // Reads the message bytes [data, data + size) that start at `base_offset` in file `name`;
  // `message` names the message type in errors ("ModelProto", "TrainerSpec", ...).
  ProtoReader(const uint8_t* data, size_t size, size_t base_offset, const std::string& name,
              const char* message)
      : data_(data), size_(size), base_offset_(base_offset), name_(name), message_(message) {}

  bool done() const { return pos_ >= size_; }
  // Reads the next field key. Rejects field number 0 and the deprecated group wire types.
  void next_field(uint32_t* field, int* wire);
  uint64_t read_varint();
  uint32_t read_fixed32();
  // Returns the payload of a length-delimited field (a view into the input).
  std::string_view read_bytes();
  // A length-delimited sub-message, ready to be read on its own.
  ProtoReader read_message(const char* message);
  void skip(int wire);
  // Throws unless `wire` is what field `field` must have.
  void expect_wire(uint32_t field, int wire, int expected) const;
  // Byte offset of the next read within the file.
  size_t offset() const { return base_offset_ + pos_; }

 private:
  [[noreturn]] void malformed(const std::string& what) const;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t base_offset_;
  const std::string& name_;
  const char* message_;
};

}  // namespace lc
