"""longctx: long-context inference with bounded memory -- Python binding of the C++ engine.

    import longctx
    m = longctx.Model("SmolLM2-135M-Instruct.Q4_1.gguf", threads=2)
    for piece in m.generate("The capital of France is", max_tokens=16, temperature=0):
        print(piece, end="", flush=True)
    nll = m.score(open("book.txt").read(), attention="lambda")   # per-token NLL, numpy

Everything computes in the C++ library (the same code as the `longctx` CLI); the GIL is
released while it does. Engine errors raise longctx.Error with the engine's message.
"""
from ._core import Error, GenerationStream, Model

__all__ = ["Model", "Error", "GenerationStream"]
__version__ = "0.1.0"
