// Trained weights -> the engine's model description (formats/model_file.h), ready for
// write_hf_dir (formats/hf.h): a Llama-family directory for Arch::Llama, a BASED directory for
// Arch::Based. What the engine's formats can and cannot represent:
//  - llama: every layer Mixer::Attention or every layer Mixer::Window (Mistral `sliding_window` =
//    the trainer's window, same keys i - W < j <= i); fc1 [value | gate] splits into up | gate.
//  - based: tied embeddings only; all softmax layers must be of one kind: Window with W keys is
//    window_size = 2 (W - 1) (keys [i - ws/2, i]), Attention is written as window_size = 2 ctx_len,
//    which equals full attention for sequences up to ctx_len + 1 tokens (and is a window beyond).
//    Softmax layers trained without RoPE (the MQAR models) are written with the longctx config
//    extension alt_mixer_2.longctx_rotary = false (the engine then rotates nothing).
//    Softmax layers need n_kv_heads == n_heads (the fused Wqkv has no GQA).
//    The MLP width is padded with zero rows/columns up to a multiple of 256 (as the loader rounds
//    n_inner), and a model without MLP (the MQAR models) gets an all-zero MLP of width 256 with
//    unit norm weights. Both are exact, not approximations: a zero fc1 row gives value = gate = 0,
//    value * silu(gate) = 0 and a zero fc2 column adds exact zeros, so x + mlp(x) == x bit for bit.
//    The embedding is padded with zero rows up to a multiple of 8 (never scored by the engine).
// Every unrepresentable case throws lc::Error saying why.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "formats/model_file.h"
#include "train/model.h"

namespace lc::train {

struct ExportOptions {
  int64_t ctx_len = 0;  // the trained context (config max_position_embeddings / n_positions)
  int bos_id = 0, eos_id = 0;
  bool byte_tokenizer = false;  // export_hf_dir also writes tokenizer.json (tokenizer/byte_level.h)
};

std::unique_ptr<ModelFile> export_model_file(const TrainModel<float>& m, const ExportOptions& o);

// export_model_file + write_hf_dir (+ tokenizer.json when o.byte_tokenizer).
void export_hf_dir(const TrainModel<float>& m, const ExportOptions& o, const std::string& dir);

}  // namespace lc::train
