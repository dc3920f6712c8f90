#include "attention/policy.h"

#include "attention/kivi.h"
#include "attention/kv_types.h"
#include "attention/policy_table.h"
#include "core/error.h"

namespace lc {

std::unique_ptr<AttentionPolicy> make_policy(const AttentionConfig& c, const PolicyContext& pc) {
  check(pc.trained_ctx > 0, "attention: the model's trained context is unknown (", pc.trained_ctx,
        ")");
  check(pc.block_tokens >= 1, "attention: block of ", pc.block_tokens, " tokens");
  check(c.topk >= 0 && c.topk <= 65536, "--topk ", c.topk, ": expected a count in [0, 65536]");
  if (c.topk > 0 && c.policy != AttnPolicy::Lambda)
    fail("--topk ", c.topk, ": expected --attn lambda (LM-Infinite's top-k), got ",
         policy_name(c.policy));
  if (c.middle_pool > 0 && c.topk == 0)
    fail("--middle-pool ", c.middle_pool, ": expected --topk K >= 1 too (top-k reads the pool)");
  check(c.middle_pool >= 0, "--middle-pool ", c.middle_pool, ": expected a count >= 1");
  check(c.window >= 0, "--window ", c.window, " must be positive");
  if (c.topk > 0 && c.k_type == DType::Q4_1)
    fail("--topk ", c.topk, ": the top-k middle store does not keep q4 keys (KIVI groups keys ",
         "over consecutive tokens, a bounded pool replaces single rows); expected --k-type f32, ",
         "bf16, f16 or q8_0 with it (--v-type q4 is fine)");
  std::unique_ptr<AttentionPolicy> p = policy_entry(c.policy).resolve(c, pc);
  p->set_kv_types(c.k_type, c.v_type);
  return p;
}

void AttentionPolicy::set_kv_types(DType k, DType v) {
  check(kv_type_supported(k) && kv_type_supported(v), "KV cache: types ", kv_type_name(k), "/",
        kv_type_name(v), ": expected ", kv_type_names());
  geo_.k_type = k;
  geo_.v_type = v;
  // q4 keys are kept in groups of kKiviGroup ring slots (kivi.h): the ring is rounded up to whole
  // groups; the extra slots only hold older keys that no row attends to.
  if (k == DType::Q4_1 && geo_.ring % kKiviGroup != 0)
    geo_.ring += kKiviGroup - geo_.ring % kKiviGroup;
  const size_t cut = label_.find("+kv(");
  if (cut != std::string::npos) label_.erase(cut);
  label_ += kv_types_label(k, v);
}

}  // namespace lc
