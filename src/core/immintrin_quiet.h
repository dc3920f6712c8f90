// <immintrin.h> for files compiled with AVX-512: GCC 12.2's AVX-512 intrinsics start many
// results from _mm512_undefined_*(), which it then reports as -Wmaybe-uninitialized /
// -Wuninitialized at the header's lines (GCC bug 105593, fixed in 12.3). The diagnostic state at
// those header lines is what counts, so the warnings are silenced for the header only. Include
// this before anything that includes <immintrin.h>.
#pragma once
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // clang has no such warning group (and no such bug)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop
