#include "tokenizer/gguf_tokenizer.h"

#include <cctype>
#include <utility>
#include <vector>

#include "core/error.h"
#include "formats/gguf_writer.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/spm_tokenizer.h"

namespace lc {

namespace {

const std::vector<std::string>& string_array(const GgufFile& g, const std::string& key) {
  const GgufValue* v = g.find(key);
  if (!v) fail(g.path, ": GGUF has no '", key, "' (no embedded tokenizer)");
  if (v->type != kGgufArray || v->elem_type != kGgufString)
    fail(g.path, ": GGUF key '", key, "' has type ", gguf_value_type_name(v->type),
         ", expected an array of strings");
  return v->strs;
}

// Texts llama.cpp always treats as control tokens (end-of-generation markers), whatever type the
// file gives them (llama_vocab::impl::load, "control-looking token").
bool is_end_of_generation_text(const std::string& t) {
  static const char* const kTexts[] = {
      "<|eot_id|>",
      "<|im_end|>",
      "<|end|>",
      "<|return|>",
      "<|call|>",
      "<|flush|>",
      "<|calls|>",
      "<end_of_turn>",
      "<|endoftext|>",
      "</s>",
      "<|eom_id|>",
      "<EOT>",
      "_<EOT>",
      "[EOT]",
      "[EOS]",
      "<|end_of_text|>",
      "<end_of_utterance>",
      "<eos>",
      "<turn|>",
      "<|tool_response>",
      "<｜end▁of▁sentence｜>",  // DeepSeek
      "[e~[",
  };
  for (const char* k : kTexts)
    if (t == k) return true;
  return false;
}

// llama.cpp gives Phi-3's special tokens (recognised by general.name) the RSTRIP attribute, as
// its tokenizer_config.json does: white space after them is dropped when they are cut out of
// text. Not <unk>, <s>, <|endoftext|>.
std::vector<int> rstrip_ids(const GgufFile& g, const std::vector<std::string>& tokens,
                            const std::vector<int>& types) {
  std::string name = g.get_string("general.name", "");
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::vector<int> ids;
  if (name.find("phi-3") == std::string::npos && name.find("phi3") == std::string::npos) return ids;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const bool special = types[i] == kPieceControl || types[i] == kPieceUserDefined ||
                         types[i] == kPieceUnknown || tokens[i] == "</s>";
    if (special && tokens[i] != "<unk>" && tokens[i] != "<s>" && tokens[i] != "<|endoftext|>")
      ids.push_back(static_cast<int>(i));
  }
  return ids;
}

int optional_id(const GgufFile& g, const std::string& key, int64_t n, int def) {
  const int64_t id = g.get_int(key, -1, INT32_MAX, def);
  if (id >= n) fail(g.path, ": GGUF ", key, " = ", id, " is not a token id (", n, " tokens)");
  return static_cast<int>(id);
}

}  // namespace

std::unique_ptr<Tokenizer> tokenizer_from_gguf(const GgufFile& g, int vocab_size_hint) {
  const std::string model = g.get_string("tokenizer.ggml.model");
  const std::vector<std::string>& tokens = string_array(g, "tokenizer.ggml.tokens");
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) fail(g.path, ": GGUF tokenizer.ggml.tokens is empty");
  if (vocab_size_hint > 0 && n > vocab_size_hint)
    fail(g.path, ": GGUF tokenizer has ", n, " tokens, more than the model's vocab_size ",
         vocab_size_hint);
  std::vector<int> types(static_cast<size_t>(n), kPieceNormal);
  if (const GgufValue* tt = g.find("tokenizer.ggml.token_type")) {
    if (tt->type != kGgufArray || tt->ints.size() != tokens.size())
      fail(g.path, ": GGUF tokenizer.ggml.token_type must be an integer array of ", n, " entries");
    for (int64_t i = 0; i < n; ++i) {
      if (tt->ints[i] < 1 || tt->ints[i] > 6)
        fail(g.path, ": GGUF token ", i, " has token_type ", tt->ints[i], ", expected 1..6");
      types[i] = static_cast<int>(tt->ints[i]);
    }
  }
  for (int64_t i = 0; i < n; ++i)
    if (types[i] != kPieceControl && is_end_of_generation_text(tokens[i])) types[i] = kPieceControl;
  if (model == "llama") {
    const GgufValue* sc = g.find("tokenizer.ggml.scores");
    if (!sc || sc->type != kGgufArray || sc->floats.size() != tokens.size())
      fail(g.path, ": GGUF tokenizer.ggml.scores must be a float array of ", n, " entries");
    std::vector<SpmPiece> pieces;
    pieces.reserve(tokens.size());
    for (int64_t i = 0; i < n; ++i)
      pieces.push_back({tokens[i], static_cast<float>(sc->floats[i]), types[i]});
    SpmConfig config;
    config.bos_id = optional_id(g, "tokenizer.ggml.bos_token_id", n, 1);
    config.eos_id = optional_id(g, "tokenizer.ggml.eos_token_id", n, 2);
    config.unk_id = optional_id(g, "tokenizer.ggml.unknown_token_id", n, 0);
    config.add_dummy_prefix = g.get_bool("tokenizer.ggml.add_space_prefix", true);
    config.add_bos = g.get_bool("tokenizer.ggml.add_bos_token", true);
    config.add_eos = g.get_bool("tokenizer.ggml.add_eos_token", false);
    config.remove_extra_whitespaces = false;  // llama.cpp's SPM tokenizer keeps spaces as given
    config.split_user_defined = true;
    config.rstrip_ids = rstrip_ids(g, tokens, types);
    return std::make_unique<SpmTokenizer>(std::move(pieces), config, g.path);
  }
  if (model == "gpt2") {
    BpeSpec spec;
    spec.tokens = tokens;
    spec.types = types;
    spec.merges = string_array(g, "tokenizer.ggml.merges");
    spec.bos_id = optional_id(g, "tokenizer.ggml.bos_token_id", n, -1);
    spec.eos_id = optional_id(g, "tokenizer.ggml.eos_token_id", n, -1);
    // The pre-tokenizer the file names; llama.cpp falls back to "default" when it names none.
    const std::string pre = g.get_string("tokenizer.ggml.pre", "default");
    spec.pre = find_pretokenizer(pre);
    if (!spec.pre)
      fail(g.path, ": GGUF tokenizer.ggml.pre '", pre,
           "' is not a supported pre-tokenizer (supported: ", supported_pretokenizer_names(), ")");
    // Without the key, BPE vocabularies start with BOS only where llama.cpp's type says so.
    spec.add_bos = g.get_bool("tokenizer.ggml.add_bos_token", spec.pre->adds_bos());
    spec.add_eos = g.get_bool("tokenizer.ggml.add_eos_token", false);
    spec.rstrip_ids = rstrip_ids(g, tokens, types);
    return make_bpe_tokenizer(std::move(spec), g.path);
  }
  fail(g.path, ": GGUF tokenizer.ggml.model '", model,
       "' is not supported (expected llama or gpt2)");
}

std::vector<std::pair<std::string, GgufValue>> gguf_tokenizer_metadata(const Tokenizer& tok) {
  const auto* spm = dynamic_cast<const SpmTokenizer*>(&tok);
  if (!spm) fail("only SentencePiece tokenizers can be embedded in a GGUF file");
  const SpmConfig& c = spm->config();
  if (c.remove_extra_whitespaces)
    fail(
        "the tokenizer squeezes whitespace (SentencePiece remove_extra_whitespaces), which "
        "GGUF's llama tokenizer cannot express");
  std::vector<std::string> tokens;
  std::vector<double> scores;
  std::vector<int64_t> types;
  const auto& pieces = spm->pieces();
  for (size_t i = 0; i < pieces.size(); ++i) {
    std::string text = pieces[i].text;
    int type = pieces[i].type;
    if (!c.escape_whitespaces) {  // llama2.c pieces: ' ' -> U+2581, types from conventions
      std::string esc;
      for (char ch : text) esc += ch == ' ' ? std::string("\xE2\x96\x81") : std::string(1, ch);
      text = esc;
      if (static_cast<int>(i) == c.unk_id)
        type = kPieceUnknown;
      else if (static_cast<int>(i) == c.bos_id || static_cast<int>(i) == c.eos_id)
        type = kPieceControl;
    }
    tokens.push_back(std::move(text));
    scores.push_back(pieces[i].score);
    types.push_back(type);
  }
  std::vector<std::pair<std::string, GgufValue>> kv = {
      {"tokenizer.ggml.model", gguf_string("llama")},
      {"tokenizer.ggml.tokens", gguf_string_array(std::move(tokens))},
      {"tokenizer.ggml.scores", gguf_f32_array(std::move(scores))},
      {"tokenizer.ggml.token_type", gguf_i32_array(std::move(types))},
      {"tokenizer.ggml.add_space_prefix", gguf_bool(c.add_dummy_prefix)},
  };
  if (c.bos_id >= 0) kv.push_back({"tokenizer.ggml.bos_token_id", gguf_u32(c.bos_id)});
  kv.push_back({"tokenizer.ggml.add_bos_token", gguf_bool(c.add_bos)});
  if (c.add_eos) kv.push_back({"tokenizer.ggml.add_eos_token", gguf_bool(true)});
  if (c.eos_id >= 0) kv.push_back({"tokenizer.ggml.eos_token_id", gguf_u32(c.eos_id)});
  if (c.unk_id >= 0) kv.push_back({"tokenizer.ggml.unknown_token_id", gguf_u32(c.unk_id)});
  return kv;
}

}  // namespace lc
