"""lm-evaluation-harness model `longctx`: the engine through the Python binding.

    lm_eval --model longctx --model_args path=MODEL.gguf,attention=lambda,threads=2 --tasks ...

model_args: path (required), attention (a policy string as the CLI's --attn item; "" = full),
dtype, threads, tokenizer, max_gen_toks (default 256). Requests:

- loglikelihood: context and continuation tokenized as lm-eval's own HF model does (the
  continuation's tokens are those of context + continuation after the context's), scored in
  one sequence; is_greedy from the last rows' logits.
- loglikelihood_rolling: the whole document as one sequence under the attention policy, however
  long (no windows: a bounded policy is what makes that possible).
- generate_until: Model.generate with the request's stop strings (greedy unless do_sample).

lm-eval 0.4.13 has no plugin entry points; `pip install .` installs a start-up hook
(longctx/_lm_eval_hook.py) that registers this class as `longctx` when lm-eval is imported.
"""
import numpy as np
import lm_eval.models  # noqa: F401  (the built-in models first: lm-eval loads them into an empty registry only)
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

from . import Model


def _tqdm(requests, disable):
    try:
        from tqdm import tqdm
        return tqdm(requests, disable=disable)
    except ImportError:
        return requests


@register_model("longctx")
class LongctxLM(LM):
    def __init__(self, path=None, attention="", dtype="", threads=2, tokenizer="",
                 max_gen_toks=256, **_lm_eval_extras):
        super().__init__()
        if not path:
            raise ValueError("longctx: model_args needs path=MODEL (a GGUF file, HF directory "
                             "or llama2.c checkpoint)")
        self.model = Model(str(path), dtype=str(dtype or ""), threads=int(threads),
                           tokenizer=str(tokenizer or ""))
        self.attention = str(attention or "")
        self.max_gen_toks = int(max_gen_toks)
        # A bad policy fails here, before lm-eval builds any request.
        self.model.score([max(self.model.bos_id, 0)] * 2, attention=self.attention)

    # -- tokenization as lm-eval's HFLM: trailing context spaces move to the continuation.
    def _encode_pair(self, context, continuation):
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces:
            continuation = context[-n_spaces:] + continuation
            context = context[:-n_spaces]
        whole = self.model.tokenize(context + continuation)
        ctx = self.model.tokenize(context)
        return ctx, whole[len(ctx):]

    def loglikelihood_tokens(self, ctx, cont):
        """(sum of log p(continuation | context), whether every continuation token is greedy)."""
        if not cont:
            return 0.0, True
        ids = ctx + cont
        if len(ids) < 2:
            raise ValueError("longctx: a loglikelihood request needs a context token")
        nll = self.model.score(ids, attention=self.attention)
        logprob = -float(np.sum(nll[len(ctx) - 1:]))
        logits = self.model.logits(ids[:-1], attention=self.attention, last=len(cont))
        greedy = bool(np.all(np.argmax(logits, axis=1) == np.asarray(cont)))
        return logprob, greedy

    def loglikelihood(self, requests, disable_tqdm=False):
        out = []
        for req in _tqdm(requests, disable_tqdm):
            context, continuation = req.args
            if context == "":  # as HFLM: the continuation follows BOS alone
                ctx, cont = self.model.tokenize(""), self.model.tokenize(continuation, bos=False)
            else:
                ctx, cont = self._encode_pair(context, continuation)
            out.append(self.loglikelihood_tokens(ctx, cont))
        return out

    def loglikelihood_rolling(self, requests, disable_tqdm=False):
        out = []
        for req in _tqdm(requests, disable_tqdm):
            (text,) = req.args
            ids = self.model.tokenize(text)
            if len(ids) < 2:
                out.append(0.0)
                continue
            out.append(-float(np.sum(self.model.score(ids, attention=self.attention))))
        return out

    def generate_until(self, requests, disable_tqdm=False):
        out = []
        for req in _tqdm(requests, disable_tqdm):
            context, kwargs = req.args
            kwargs = dict(kwargs or {})
            until = kwargs.pop("until", None) or []
            if isinstance(until, str):
                until = [until]
            do_sample = kwargs.pop("do_sample", False)
            temperature = float(kwargs.pop("temperature", 0.0)) if do_sample else 0.0
            stream = self.model.generate(
                context, max_tokens=int(kwargs.pop("max_gen_toks", self.max_gen_toks)),
                temperature=temperature, top_p=float(kwargs.pop("top_p", 1.0) or 1.0),
                top_k=int(kwargs.pop("top_k", 0) or 0), seed=int(kwargs.pop("seed", 42) or 42),
                attention=self.attention, stop=list(until))
            out.append("".join(stream))
        return out
