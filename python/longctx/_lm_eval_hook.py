"""Start-up hook (longctx_lm_eval.pth): when lm-eval's model registry is imported, register the
name `longctx` as a lazy placeholder for longctx.lm_eval_model:LongctxLM -- lm-eval 0.4.13 reads
no plugin entry points, and its CLI resolves --model before importing anything of ours. Nothing
is imported here until lm-eval is; nothing of lm-eval is modified."""
import importlib
import importlib.abc
import importlib.util
import sys

_TARGET = "lm_eval.api.registry"


def _register(module):
    try:
        # lm-eval fills its registry with the built-in models only when it finds it empty.
        importlib.import_module("lm_eval.models")
        if "longctx" not in module.model_registry:
            module.model_registry.register("longctx", target="longctx.lm_eval_model:LongctxLM")
    except Exception:  # an lm-eval without this registry API: leave it alone
        pass


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != _TARGET:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_register(module):
            exec_module(module)
            _register(module)

        loader.exec_module = exec_and_register
        return spec


if _TARGET in sys.modules:
    _register(sys.modules[_TARGET])
elif not any(isinstance(f, _Finder) for f in sys.meta_path):
    sys.meta_path.insert(0, _Finder())
