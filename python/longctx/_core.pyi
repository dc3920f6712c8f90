"""Type stubs of the extension longctx._core (python/src/*.cc)."""
from typing import Iterator, Sequence, Union

import numpy as np
import numpy.typing as npt

Prompt = Union[str, Sequence[int]]

class Error(RuntimeError):
    """An error the engine raised (a file it refuses, a prompt beyond a full cache, ...): the
    engine's one-line message."""

class GenerationStream(Iterator[str]):
    """Model.generate's iterator: each item is the next piece of text (whole UTF-8 characters;
    text that may still become a stop string is held back)."""
    def __iter__(self) -> GenerationStream: ...
    def __next__(self) -> str: ...
    @property
    def finish_reason(self) -> str:
        """"" while running; then "stop" (end token or stop string), "length" (max_tokens) or
        "context" (a full cache's limit)."""
    @property
    def tokens(self) -> list[int]:
        """The ids generated so far."""
    @property
    def n_prompt(self) -> int: ...
    @property
    def n_generated(self) -> int: ...

class Model:
    """A model file (GGUF, safetensors / HF directory, llama2.c) loaded with its tokenizer.

    dtype: "" keeps the file's types; else f32, bf16, f16, q8_0, q4_0, ... as `longctx --dtype`.
    attention (every method): a policy as the CLI's --attn item -- "full", "lambda",
    "lambda:D=none", "streaming:G=4:W=1024", "window:W=512", "trams:M=400:R=150:m=200", ...;
    "" = full (models whose mixers are fixed, e.g. BASED, take only "")."""
    def __init__(self, path: str, dtype: str = "", threads: int = 2, tokenizer: str = "") -> None: ...
    @property
    def path(self) -> str: ...
    @property
    def threads(self) -> int: ...
    @property
    def dtype(self) -> str: ...
    @property
    def arch(self) -> str: ...
    @property
    def vocab_size(self) -> int: ...
    @property
    def ctx_len(self) -> int:
        """The trained context."""
    @property
    def n_layers(self) -> int: ...
    @property
    def d_model(self) -> int: ...
    @property
    def bos_id(self) -> int: ...
    @property
    def eos_id(self) -> int: ...
    @property
    def takes_attention(self) -> bool: ...
    def tokenize(self, text: str, bos: bool = True, special: bool = False) -> list[int]:
        """Token ids; BOS first when bos and the file adds one; special: control-token texts
        (<|im_start|>) become those tokens."""
    def detokenize(self, ids: Sequence[int], special: bool = False) -> str: ...
    def generate(self, prompt: Prompt, max_tokens: int = 256, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, seed: int = 42, attention: str = "",
                 stop: Sequence[str] = ..., ctx: int = 0, special: bool = False) -> GenerationStream:
        """Streams the continuation of prompt (text, encoded as `longctx run` does, or ids);
        temperature 0 = greedy. ctx: the context of a full cache (0 = the trained context)."""
    def chat(self, messages: Sequence[dict], max_tokens: int = 512, temperature: float = 1.0,
             top_k: int = 0, top_p: float = 1.0, seed: int = 42, attention: str = "",
             stop: Sequence[str] = ..., ctx: int = 0) -> GenerationStream:
        """Streams the assistant's reply to messages ([{"role": ..., "content": ...}, ...])
        rendered through the file's chat template; ends at the template family's end-of-turn
        token (not emitted), as `longctx run --chat` does. ValueError when the file has no
        template."""
    def generate_batch(self, prompts: Sequence[Prompt], max_tokens: int = 256,
                       temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                       seed: int = 42, attention: str = "", ctx: int = 0,
                       special: bool = False) -> list[str]:
        """One batched decode over every prompt (sequence i samples with seed + i)."""
    def score(self, text_or_ids: Prompt, attention: str = "") -> npt.NDArray[np.float64]:
        """Per-token NLL (nats) of a document scored as one sequence, as `longctx ppl` does:
        element p - 1 is the NLL of token p given tokens 0..p-1. Text gets BOS as the file asks."""
    def logits(self, ids: Sequence[int], attention: str = "",
               last: int = 0) -> npt.NDArray[np.float32]:
        """[n, vocab] logits of every position (or of the last `last` positions), float32,
        owned by the array (no copy)."""

# The cells and reports of longctx.sweep.
def ppl_documents(model: Model, paths: Sequence[str], max_len: int = 0) -> list[dict]: ...
def ppl_cell(model: Model, tokens: npt.NDArray[np.int32], attention: str,
             session_tokens: int) -> dict: ...
def ppl_report(model: Model, documents: list, results: list, bin: int, max_len: int,
               command: str, plot_path: str = "") -> str: ...
def check_attention(model: Model, attention: str) -> str: ...
def passkey_check(model: Model, lengths: Sequence[int], digits: int, chat: bool = False) -> None: ...
def passkey_cell(model: Model, attention: str, lengths: Sequence[int], samples: int, digits: int,
                 seed: int, length: int, index: int, chat: bool = False,
                 depths: Sequence[float] = ()) -> dict: ...
def passkey_report(model: Model, results: list, lengths: Sequence[int], samples: int, digits: int,
                   seed: int, command: str, plot_path: str = "", chat: bool = False,
                   depths: Sequence[float] = ()) -> str: ...
