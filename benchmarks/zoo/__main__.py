"""`python -m benchmarks.zoo`: the zoo as a Markdown table (name, origin, source, inputs, how it is built)."""

from __future__ import annotations

from benchmarks.zoo.models import SUBSET, ZOO


def _inputs(entry) -> str:
    parts = []
    for s in entry.inputs:
        extra = f" ids<{s.vocab}" if s.vocab else (f"={s.value:g}" if s.value is not None else "")
        parts.append(f"{s.name} {list(s.shape)} {s.dtype}{extra}")
    return "; ".join(parts)


def main() -> None:
    print("| # | model | family | from | source | inputs | built by |")
    print("|---|---|---|---|---|---|---|")
    for i, e in enumerate(ZOO, 1):
        name = f"**{e.name}**" if e.name in SUBSET else e.name
        origin = e.framework + (" (trained)" if e.pretrained else "")
        print(f"| {i} | {name} | {e.family} | {origin} | {e.source} | {_inputs(e)} | {e.how} |")


if __name__ == "__main__":
    main()
