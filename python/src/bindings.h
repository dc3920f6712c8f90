// The parts of the module longctx._core (module.cc defines it).
#pragma once
#include <nanobind/nanobind.h>

#include <string>

namespace lc::py {

void bind_model(nanobind::module_& m);  // Model, GenerationStream (module.cc)
void bind_eval(nanobind::module_& m);   // the sweeps' cells and reports (eval_cells.cc)
// Engine bytes as a Python str (invalid UTF-8 replaced, never an exception).
nanobind::str to_str(const std::string& bytes);

}  // namespace lc::py
