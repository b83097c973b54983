"""Which `finish_reason` values say that an OpenAI-compatible answer is complete.

Rule (case-insensitive, as servers spell them "stop", "STOP", "eos_token"):
- complete: the model ended the answer itself (stop, eos, eos_token, stop_sequence, end_turn), or called a tool
  (tool_calls, function_call, tool_use);
- complete but truncated: the answer hit the token limit (length, max_tokens, model_length); recorded `ok` with
  `truncated: true`;
- refused by a content filter (content_filter, safety, recitation, ...): an error naming the filter, not retried
  (asking the same again gets the same refusal);
- anything else (error, abort, cancelled, an unknown value): the server did not say the answer is complete, so
  the attempt fails and is retried like a 5xx.

Sources: OpenAI's chat completion chunk (stop, length, tool_calls, content_filter, function_call), vLLM (abort),
TGI (eos_token, stop_sequence), Anthropic and Gemini's compatible endpoints (end_turn, tool_use, max_tokens,
SAFETY, RECITATION), Mistral (model_length, error).
"""

from __future__ import annotations

from typing import Literal

COMPLETE = frozenset({"stop", "eos", "eos_token", "stop_sequence", "end_turn", "tool_calls", "function_call",
                      "tool_use"})
TRUNCATED = frozenset({"length", "max_tokens", "model_length"})
FILTERED = frozenset({"content_filter", "safety", "recitation", "blocklist", "prohibited_content", "spii"})

Verdict = Literal["complete", "truncated", "filtered", "failed"]


def finish_verdict(reason: str) -> Verdict:
    """What a non-empty finish_reason says about the answer (see the module's rule)."""
    key = reason.strip().lower()
    if key in COMPLETE:
        return "complete"
    if key in TRUNCATED:
        return "truncated"
    return "filtered" if key in FILTERED else "failed"
