"""One training loop for the course's models: AdamW, gradient clipping, a progress bar, a live loss curve.

    for step in range(steps):
        set the learning rate: optional linear warmup, then constant or cosine decay
        batch = next_batch()                 # the caller decides what a batch is
        _, loss = model(*batch)              # every course model returns (output, loss)
        loss.backward(); clip; optimizer.step()
        every eval_every steps: evaluate() -> validation loss, drawn beside the training loss

Given a ``plot`` (``vlacourse.widgets.interactive.LiveLossPlot``, a PNG in an ``ipywidgets.Image`` that updates in Colab
and JupyterLab alike), the loop redraws it at each evaluation; this module imports no widget library.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from tqdm.auto import tqdm

if TYPE_CHECKING:
    from vlacourse.widgets.interactive import LiveLossPlot

PREFIX_STEPS = 50  # the first steps of a shipped checkpoint's recipe, rerun by `make test` against its record


@dataclass
class History:
    steps: list[int] = field(default_factory=list)  # step of each training loss
    losses: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_losses: list[float] = field(default_factory=list)


def learning_rate(step: int, steps: int, lr: float, warmup_steps: int = 0, cosine: bool = False) -> float:
    """The rate at ``step`` (1-based): a linear warmup over ``warmup_steps``, then ``lr``, or with ``cosine``
    a half cosine from ``lr`` down to ``lr / 10`` at the last step (nanoGPT's schedule)."""
    if step <= warmup_steps:
        return lr * step / warmup_steps
    if not cosine:
        return lr
    progress = (step - warmup_steps) / max(1, steps - warmup_steps)  # 0 -> 1 after the warmup
    return lr / 10 + (lr - lr / 10) * 0.5 * (1 + math.cos(math.pi * progress))


def train(
    model: torch.nn.Module,
    next_batch: Callable[[], tuple],
    steps: int,
    lr: float = 3e-3,
    weight_decay: float = 0.1,
    grad_clip: float = 1.0,
    evaluate: Callable[[], float] | None = None,
    eval_every: int = 100,
    plot: LiveLossPlot | None = None,
    progress: bool = True,
    warmup_steps: int = 0,
    cosine: bool = False,
    history: History | None = None,
    compute_loss: Callable[[torch.nn.Module, tuple], torch.Tensor] | None = None,
    stop_after: int | None = None,
    lr_scales: dict[str, float] | None = None,
) -> History:
    """Train ``model`` for ``steps`` steps; ``evaluate()`` returns a validation loss (called in eval mode).

    Only parameters with ``requires_grad`` are optimised, so a frozen part stays as it is. A warmup keeps
    the first updates of a fresh model small, while Adam's statistics are still noisy. ``compute_loss(model,
    batch)`` replaces the default ``model(*batch)[1]`` (policies take a dict); ``history`` may be a
    subclass that ``evaluate`` adds to (the policy loop records success rates there). ``stop_after`` runs
    only the first steps of the ``steps``-step schedule: the prefix of a recipe, whose losses are those of
    the whole run's first steps (``make test`` reruns shipped checkpoints' prefixes this way). ``lr_scales``
    maps a parameter-name prefix to a fraction of the rate for the parameters whose names start with it
    (VL-JEPA's Y-encoder learns at 0.05x)."""
    if stop_after is not None and not 1 <= stop_after <= steps:
        raise ValueError(f"stop_after={stop_after} must be between 1 and steps={steps}, or None for the whole run")
    scaled: dict[float, list[torch.nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            scale = next((s for prefix, s in (lr_scales or {}).items() if name.startswith(prefix)), 1.0)
            scaled.setdefault(scale, []).append(parameter)
    names = [name for name, _ in model.named_parameters()]
    unused = [prefix for prefix in lr_scales or {} if not any(name.startswith(prefix) for name in names)]
    if unused:
        raise ValueError(f"lr_scales names {unused}, which no parameter of the model starts with")
    trainable = [p for group in scaled.values() for p in group]
    groups = [{"params": group, "scale": scale} for scale, group in scaled.items()]
    optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    history = history if history is not None else History()
    compute_loss = compute_loss or (lambda model, batch: model(*batch)[1])
    bar = tqdm(range(1, (stop_after or steps) + 1), desc="training", disable=not progress)
    for step in bar:
        rate = learning_rate(step, steps, lr, warmup_steps, cosine)
        for group in optimizer.param_groups:
            group["lr"] = rate * group["scale"]
        model.train()
        loss = compute_loss(model, next_batch())
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the loss became {loss.item()} at step {step}: lower lr (now {lr})")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, grad_clip)
        optimizer.step()
        history.steps.append(step)
        history.losses.append(loss.item())
        if evaluate is not None and (step % eval_every == 0 or step == steps):
            model.eval()
            with torch.no_grad():
                history.eval_steps.append(step)
                history.eval_losses.append(float(evaluate()))
            bar.set_postfix(loss=f"{loss.item():.3f}", val=f"{history.eval_losses[-1]:.3f}")
            if plot is not None:
                plot.draw(history)
    model.eval()
    return history


def train_by_schedule(
    model: torch.nn.Module,
    next_batch: Callable[[], dict],
    steps: int,
    lr: float,
    progress: bool = True,
    stop_after: int | None = None,
) -> History:
    """The schedule the hierarchy's recipes share (the planner, the command and the commenting VLAs): 100 warmup
    steps, then cosine decay, on batches that are dicts, each given to ``model(batch)``, which returns (loss,
    parts)."""
    return train(
        model,
        next_batch,
        steps,
        lr=lr,
        progress=progress,
        warmup_steps=100,
        cosine=True,
        compute_loss=lambda model, batch: model(batch)[0],
        stop_after=stop_after,
    )


@torch.no_grad()
def round_to_float16(*models: torch.nn.Module) -> None:
    """Round every parameter to float16 and back, in place: a model measured after this is measured as its
    float16 checkpoint ships."""
    for model in models:
        for parameter in model.parameters():
            parameter.copy_(parameter.half().float())
