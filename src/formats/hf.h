// Hugging Face checkpoints: a directory with config.json and model.safetensors (or shards listed
// in model.safetensors.index.json). Llama-family architectures (LlamaForCausalLM,
// MistralForCausalLM, Qwen2ForCausalLM) and MPT (MptForCausalLM / MPTForCausalLM, ALiBi) map
// onto the canonical tensor names; HF q/k rows are in the rotate-half RoPE layout
// (ModelConfig::rope_style = RotateHalf).
#pragma once
#include <memory>
#include <string>

#include "formats/model_file.h"

namespace lc {

// "blk.3.attn_q" -> "model.layers.3.self_attn.q_proj.weight" ("" when the name has no HF
// counterpart); canonical_from_hf is the inverse ("" for unknown names). `arch` is
// ModelConfig::arch: "llama" (Llama, Mistral, Qwen2), "mpt" ("blk.3.attn_qkv" ->
// "transformer.blocks.3.attn.Wqkv.weight") or "based" ("blk.3.conv_kernel" ->
// "transformer.layers.3.mixer.conv.conv.weight"; the loader strips an optional "model." prefix).
std::string hf_tensor_name(const std::string& canonical, Arch arch = Arch::Llama);
std::string canonical_from_hf(const std::string& hf, Arch arch = Arch::Llama);

// Reorders the rows of every attn_q / attn_k (and their biases) within each head from the
// model's rope_style to `to`, copying them to owned memory, and sets config.rope_style.
// AdjacentPairs -> RotateHalf moves row 2i+p of a head to p*head_dim/2 + i (the permutation of
// Meta's convert_llama_weights_to_hf.py); RotateHalf -> AdjacentPairs is its inverse.
void permute_rope_rows(ModelFile& m, ops::RopeStyle to);

// Writes DIR/config.json and DIR/model.safetensors (creating DIR), each atomically. Tensors
// must be f32, f16 or bf16 and q/k rows in the rotate-half layout. on_tensor (may be empty) is
// called after each tensor of model.safetensors.
void write_hf_dir(const std::string& dir, const ModelFile& m,
                  const TensorWriteProgress& on_tensor = {});

bool is_directory(const std::string& path);
// Loads a Hugging Face directory; every error names the file and key or tensor.
std::unique_ptr<ModelFile> load_hf_dir(const std::string& dir);

}  // namespace lc
