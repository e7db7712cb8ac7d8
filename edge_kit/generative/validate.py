"""Does the artifact generate what its source generates? Greedy steps and next-token quality.

`check_greedy` runs N greedy steps in the artifact's runtime (prefill, then one token at a
time through its KV cache) and the same N steps in torch eager (full recompute, no cache),
token for token. `measure_quality` feeds a fixed token sequence through the artifact one
token at a time and compares each next-token prediction with the fp32 source's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edge_kit.generative.results import GreedyCheck, QualityResult
from edge_kit.harness.harness_generate import greedy, teacher_forced


def fixed_sequence(vocab: int, length: int, seed: int = 0) -> list[int]:
    """`length` uniform random token ids (models with random weights have no text)."""
    return [int(t) for t in np.random.default_rng(seed).integers(0, vocab, length)]


def source_logits(model: Any, tokens: Sequence[int]) -> np.ndarray:
    """[len(tokens), vocab] logits of the torch model over the whole sequence (no cache)."""
    import torch

    with torch.no_grad():
        out = model(input_ids=torch.tensor([list(tokens)]), use_cache=False)
    return out.logits[0].float().numpy()


def reference_greedy(model: Any, prompt: Sequence[int], steps: int) -> tuple[list[int], list[np.ndarray]]:
    """Greedy tokens and their logits from torch eager, recomputing the whole context each step."""
    tokens, logits = list(prompt), []
    for _ in range(steps):
        last = source_logits(model, tokens)[-1]
        logits.append(last)
        tokens.append(int(np.argmax(last)))
    return tokens[len(prompt) :], logits


def forced(decoder: Any, prompt: Sequence[int], ref_tokens: Sequence[int]) -> list[np.ndarray]:
    """The artifact's logits at each step when fed the reference's tokens (same contexts)."""
    decoder.reset()
    logits = [decoder.step(prompt, 0)]
    for i, token in enumerate(ref_tokens[:-1]):
        logits.append(decoder.step([token], len(prompt) + i))
    return logits


def _ties(got: list[np.ndarray], ref_logits: list[np.ndarray], ref_tokens: Sequence[int], tol: float) -> int | None:
    """Teacher-forced steps whose token differs only by a near tie (the reference's own margin
    between its token and the artifact's <= tol); None when a step differs by more, or any
    logit by more than tol."""
    ties = 0
    for g, r, t in zip(got, ref_logits, ref_tokens):
        if float(np.abs(g - r).max()) > tol:
            return None
        chosen = int(np.argmax(g))
        if chosen != t:
            if float(r[t] - r[chosen]) > tol:
                return None
            ties += 1
    return ties


def check_greedy(
    decoder: Any,
    reference: Any,
    prompt: Sequence[int],
    *,
    steps: int = 8,
    reference_label: str = "source fp32",
    tie_tolerance: float | None = None,
) -> GreedyCheck:
    """N greedy steps of the artifact against the reference model, token for token; then the
    same N steps teacher-forced on the reference's tokens, which stay comparable after a divergence.

    With `tie_tolerance` (logits), a free-running divergence still passes when every
    teacher-forced step is within the tolerance and chooses the reference's token or one the
    reference itself ranks within the tolerance (a near tie broken by the artifact's rounding:
    with random weights top-2 margins are hundredths). Exact matches are always reported."""
    run = greedy(decoder, prompt, steps)
    ref_tokens, ref_logits = reference_greedy(reference, prompt, steps)
    matched = 0
    while matched < steps and run["tokens"][matched] == ref_tokens[matched]:
        matched += 1
    diffs = [float(np.abs(a - b).max()) for a, b in zip(run["logits"][: matched + 1], ref_logits[: matched + 1])]
    ok = matched == steps
    message = (
        "" if ok else f"step {matched + 1}: artifact chose {run['tokens'][matched]}, reference {ref_tokens[matched]}"
    )
    margin = None
    if not ok:
        at = ref_logits[matched]
        margin = float(at[ref_tokens[matched]] - at[run["tokens"][matched]])
    got = forced(decoder, prompt, ref_tokens)
    ties = _ties(got, ref_logits, ref_tokens, tie_tolerance) if (not ok and tie_tolerance is not None) else None
    if ties is not None:
        message += (
            f" (a near tie: the reference ranks them {margin:.4f} apart; every teacher-forced step is within "
            f"{tie_tolerance} logits and chooses the reference's token or a near tie, {ties} ties)"
        )
    return GreedyCheck(
        status="ok" if ok or ties is not None else "mismatch",
        reference=reference_label,
        prompt=tuple(int(t) for t in prompt),
        steps=steps,
        matched_steps=matched,
        artifact_tokens=tuple(run["tokens"]),
        reference_tokens=tuple(ref_tokens),
        max_abs_logit_diff=max(diffs) if diffs else float("nan"),
        runtime=f"{decoder.name} {decoder.version}",
        message=message,
        forced_matches=sum(int(np.argmax(g)) == t for g, t in zip(got, ref_tokens)),
        forced_max_abs_logit_diff=max(float(np.abs(g - r).max()) for g, r in zip(got, ref_logits)),
        divergence_margin=margin,
        tie_tolerance=tie_tolerance,
        ties=ties or 0,
    )


def _perplexity(logits: np.ndarray, tokens: Sequence[int]) -> float:
    """exp(mean negative log-likelihood of tokens[i+1] under logits[i])."""
    x = logits[:-1].astype(np.float64)
    x = x - x.max(axis=1, keepdims=True)
    logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    nll = -logp[np.arange(len(x)), np.asarray(tokens[1:])]
    return float(np.exp(nll.mean()))


def measure_quality(decoder: Any, source: Any, tokens: Sequence[int], sequence: str) -> QualityResult:
    """Next-token agreement with the fp32 source and perplexity, in the artifact's runtime."""
    got = teacher_forced(decoder, tokens)
    want = source_logits(source, tokens)
    return QualityResult(
        tokens=len(tokens),
        agreement=float((got.argmax(1) == want.argmax(1)).mean()),
        perplexity=_perplexity(got, tokens),
        reference_perplexity=_perplexity(want, tokens),
        max_abs_logit_diff=float(np.abs(got - want).max()),
        sequence=sequence,
    )
