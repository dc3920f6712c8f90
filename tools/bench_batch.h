// bench with --batch / --fill / --taylor for both architectures: B independent sequences, each
// decode step one forward over all of them (runtime/batch_session.h); KV / state bytes per
// sequence and in total; for BASED also the Taylor prefill form (chunked vs quadratic).
#pragma once
#include "args.h"
#include "formats/model_file.h"

namespace lc::cli {

// The flags bench accepts besides the attention flags.
extern const char* const kBenchFlags[];
int bench_batch_llama(const Args& a, const ModelFile& file);
int bench_batch_based(const Args& a, const ModelFile& file);

}  // namespace lc::cli
