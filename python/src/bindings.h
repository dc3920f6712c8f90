// The parts of the module longctx._core (module.cc defines it).
#pragma once
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace lc::py {

void bind_model(nanobind::module_& m);  // Model, GenerationStream (module.cc)
void bind_eval(nanobind::module_& m);   // the sweeps' cells and reports (eval_cells.cc)
// Engine bytes as a Python str (invalid UTF-8 replaced, never an exception).
nanobind::str to_str(const std::string& bytes);

// v as a NumPy array of `shape` that owns v's buffer: moved to the heap, freed with the array,
// never copied.
template <typename T>
nanobind::ndarray<nanobind::numpy, T> owned_array(std::vector<T>&& v,
                                                  std::initializer_list<size_t> shape) {
  auto* heap = new std::vector<T>(std::move(v));
  nanobind::capsule owner(heap, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nanobind::ndarray<nanobind::numpy, T>(heap->data(), shape, owner);
}

}  // namespace lc::py
