"""Knowledge insulation: the VLM learns from FAST tokens and its own data; the action expert reads it through
a stop-gradient (Driess et al. 2025, "Knowledge Insulating Vision-Language-Action Models", arXiv 2505.23705).

pi0's recipe (notebook 06) attaches a freshly initialised action expert to a pre-trained VLM and trains
both with the flow-matching loss. The expert reads the VLM's keys and values, so the loss's gradient flows
back through them into every VLM layer. Early on that gradient comes from random weights and says nothing
about images or words, and the VLM forgets: the shipped flow VLA of notebook 06, trained that way, has
lost most of the course VLM's question answering (notebook 07 measures it). Knowledge insulation keeps
the model and changes what trains what:

        FAST tokens of the chunk           captions, questions (notebook 02)
        next-token loss ^                  next-token loss ^
                        |                                  |
    images, words --> VLM: vision encoder, projector, GPT layers 1..4
                           | keys, values of every layer (the prefix only, never the FAST tokens)
                           x stop-gradient: the expert reads them, its loss never writes back
                           v
    state, noisy chunk, t --> action expert layers 1..4 --> velocity --> flow-matching loss

    at inference: the prefix pass, then the expert's Euler steps (``FlowVLA.generate``); no FAST token is written

The VLM trains with next-token losses only, as it was pre-trained: on the chunk's FAST tokens (which
teach its features what matters for actions) and on its own vision-language data (which keep what it
knew). The expert trains with the flow loss on those features. Knowledge insulation is two switches,
``InsulationConfig.stop_gradient`` and ``vlm_losses``; the four runs of notebook 07 train the same network
for the same budget with each setting (``RUNS``):

    run          stop-gradient   VLM losses (FAST, VQA)   what trains the VLM
    naive        no              no                       the flow loss alone (pi0's recipe)
    joint        no              yes                      all three losses
    frozen       yes             no                       nothing: it stays as it was
    insulated    yes             yes                      FAST tokens and its own data (KI)

Where ours differs, and why:
- The paper co-trains the VLM on web data (captioning, question answering and the like) alongside the
  robot data; ours co-trains on the captions and questions of the 2000 rendered scenes the course VLM was
  trained on first (``InsulationRecipe.vqa_scenes``).
- Our VLM reads the robot's state as one projected token before the FAST tokens, as notebook 05's VLA
  does; the expert has its own state token, as in pi0.
- The three losses weigh 1 each (``fast_weight``, ``vqa_weight``). The expert's loss includes the
  localisation loss of ``vlacourse.policies.vlm_prefix``, which reads the expert's state token, so it is insulated too.
- On the VLM's side sit our VLA's keypoint read-outs (new layers, notebook 04): in the frozen run they
  keep their random initial weights.
- Built on the VLM that points (``InsulationRecipe.pointing``, as the recorded runs are), the VLA points before it
  acts, as notebook 06's flow VLA does, and the pointer's loss counts among the VLM's losses ("point"): the
  naive run trains with the flow loss alone, as pi0 does, so notebook 06's flow VLA (flow and pointing
  losses) lies between the naive and the joint run.

The recorded runs (``python -m vlacourse.policies.insulation record``) are in ``insulation_runs.json``, which
notebook 07 reads; RESULTS.md tabulates them.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from vlacourse.checkpoint import read_recording
from vlacourse.cli import Commands
from vlacourse.lm.gpt import GPTConfig, KVCache
from vlacourse.lm.tokenizer import BPETokenizer
from vlacourse.policies.fast import FASTTokenizer
from vlacourse.policies.fast_vla import fast_token_targets
from vlacourse.policies.flow import FlowConfig, FlowVLA
from vlacourse.policies.policy import POINTING_KEY, STATE_KEY, TASK_KEY, train_policy
from vlacourse.policies.vlm_prefix import VLMPolicy, action_token_loss, build_on_vlm
from vlacourse.training import PREFIX_STEPS
from vlacourse.vlm.course_vlm import VLM, qa_batches, question_accuracy
from vlacourse.vlm.vision import pointing_loss

# The expert's flow loss; the VLM's FAST-token and vision-language losses, and its pointer's if it points.
LOSSES = ("flow", "fast", "vqa", "point")
RUNS = {
    "naive": {"stop_gradient": False, "vlm_losses": False},  # the runs of notebook 07 (see the module)
    "joint": {"stop_gradient": False, "vlm_losses": True},
    "frozen": {"stop_gradient": True, "vlm_losses": False},
    "insulated": {"stop_gradient": True, "vlm_losses": True},
}


def run_name(stop_gradient: bool, vlm_losses: bool) -> str:
    """The run of ``RUNS`` with these two switches."""
    return next(
        name
        for name, switches in RUNS.items()
        if switches == {"stop_gradient": stop_gradient, "vlm_losses": vlm_losses}
    )


@dataclass
class InsulationConfig(FlowConfig):
    stop_gradient: bool = True  # the expert reads the VLM's keys and values through a stop-gradient
    vlm_losses: bool = True  # the VLM trains on the chunk's FAST tokens and on its vision-language data
    fast_weight: float = 1.0  # weight of the next-token loss on the FAST tokens
    vqa_weight: float = 1.0  # weight of the next-token loss on captions and questions (notebook 02's)

    @property
    def vlm_frozen(self) -> bool:
        """No loss reaches the VLM: its parameters are frozen (so that weight decay does not shrink them)."""
        return self.stop_gradient and not self.vlm_losses


class InsulatedVLA(FlowVLA):
    """The flow VLA with FAST tokens and vision-language data training its VLM, the expert insulated."""

    config_class = InsulationConfig
    saved_arguments = {"fast": FASTTokenizer}  # the FAST tokenizer is saved in the file's metadata

    def __init__(
        self,
        config: InsulationConfig,
        stats: dict,
        vlm: VLM,
        tokenizer: BPETokenizer,
        instructions: list[str],
        fast: FASTTokenizer,
    ):
        super().__init__(config, stats, vlm, tokenizer, instructions, action_vocab=fast.vocab_size + 1)
        self.fast = fast  # the FAST tokens, then an end token, follow the text tokens
        # The state as the VLM reads it before the FAST tokens; the expert keeps its own (``state_projector``).
        self.vlm_state_projector = nn.Linear(config.state_dim, self.gpt.config.n_embd)
        if config.vlm_frozen:
            parts = self.parts()
            for name in self.vlm_parts():
                for parameter in parts[name]:
                    parameter.requires_grad_(False)

    def parts(self) -> dict[str, list[nn.Parameter]]:
        """The network's parameters in the parts the instruments and the widget show, from the camera to the
        losses: the VLM's (vision encoder to its last layer), then the expert's. Each parameter is in exactly
        one part (a test checks it)."""

        def of(*modules: nn.Module) -> list[nn.Parameter]:
            return [p for module in modules for p in module.parameters()]

        gpt = self.gpt
        parts = {
            "vision encoder": of(self.vision),
            "projector": of(self.projector, self.keypoint_readouts),
            "token embeddings": of(gpt.wte, gpt.wpe, self.vlm_state_projector),
        }
        if self.config.point_weight > 0:  # the VLM's read-out of where the named block is, and its token
            parts["pointer"] = of(self.pointer, self.point_projector)
        for i, block in enumerate(gpt.blocks):
            parts[f"VLM layer {i + 1}"] = of(block, gpt.ln_f) if i == len(gpt.blocks) - 1 else of(block)
        parts["expert input"] = of(self.action_in, self.action_time_mlp, self.state_projector) + [self.suffix_positions]
        for i, block in enumerate(self.expert):
            parts[f"expert layer {i + 1}"] = of(block)
        parts["expert output"] = of(self.expert_ln, self.action_out, self.locator)
        return parts

    def vlm_parts(self) -> list[str]:
        return [name for name in self.parts() if not name.startswith("expert")]

    def losses(self, batch: dict[str, Any]) -> tuple[dict[str, torch.Tensor], KVCache]:
        """Each loss on a batch (``LOSSES``: the VLM's only with ``vlm_losses``, "vqa" only when the batch has
        ``co_training`` data, "point" only on a VLM that points), and the keys and values the expert read,
        (B, nh, P, hs) per layer."""
        cache, losses = KVCache(self.gpt.config.n_layer), {}
        # The prefix (pointing first, if the VLM points), its keys and values left in the cache: (B, nh, P, hs).
        _, pointing = self.read_prefix(self.images_of(batch), self.instruction_ids(batch[TASK_KEY]), None, cache)
        P = cache.length
        if self.config.vlm_losses:
            tokens, targets = fast_token_targets(self.fast, batch["action"], self.device)  # (B, L) each
            state = self.vlm_state_projector(self.normalize_state(batch[STATE_KEY]))[:, None]  # (B, 1, C)
            x = torch.cat([state, self.gpt.wte(tokens[:, :-1] + self.text_vocab)], dim=1)  # (B, L, C), after the prefix
            logits = self.gpt.lm_head(self.gpt.features(x, cache))  # (B, L, vocab): the state predicts f1
            losses["fast"] = action_token_loss(logits, targets, self.text_vocab)
            if "co_training" in batch:
                losses["vqa"] = self.vqa_loss(*batch["co_training"])
            if pointing is not None:
                losses["point"] = pointing_loss(pointing, batch[POINTING_KEY], self.config.cameras)[0]
        read = KVCache(self.gpt.config.n_layer)
        for layer in range(self.gpt.config.n_layer):  # the prefix's keys and values: never the FAST tokens'
            k, v = cache.keys[layer][:, :, :P], cache.values[layer][:, :, :P]  # (B, nh, P, hs) each
            if self.config.stop_gradient:
                # The stop-gradient: a new leaf with the same numbers. The expert's gradient arrives here (the
                # instruments read it) and goes no further.
                k, v = k.detach().requires_grad_(), v.detach().requires_grad_()
            read.keys[layer], read.values[layer] = k, v
        losses["flow"] = self.flow_loss(read, batch)[0]
        return losses, read

    def forward(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        losses, _ = self.losses(batch)
        weights = {
            "flow": 1.0,
            "fast": self.config.fast_weight,
            "vqa": self.config.vqa_weight,
            "point": self.config.point_weight,
        }
        return sum(weights[name] * loss for name, loss in losses.items()), {k: v.item() for k, v in losses.items()}


def build_insulated_vla(
    dataset,
    run: str = "insulated",
    chunk_size: int = 10,
    device: str | torch.device = "cpu",
    pointing_vlm: VLMPolicy | None = None,
) -> InsulatedVLA:
    """A fresh VLA for one of the ``RUNS`` on the course VLM, or on ``pointing_vlm`` (it then points before it acts,
    as notebook 06's flow VLA; ``vlm_prefix.build_on_vlm``): its expert random, its FAST tokenizer fitted on the
    dataset's chunks."""
    if run not in RUNS:
        raise ValueError(f"unknown run {run!r}: choose one of {list(RUNS)}")
    from vlacourse.policies.compression import demonstration_chunks

    fast = FASTTokenizer.fit(demonstration_chunks(dataset, chunk_size), 1024, 10.0)
    config = InsulationConfig(
        chunk_size=chunk_size, n_action_steps=chunk_size, point_weight=float(pointing_vlm is not None), **RUNS[run]
    )
    return build_on_vlm(InsulatedVLA, config, dataset, pointing_vlm, fast=fast).to(device)


def text_vlm(policy: VLMPolicy) -> VLM:
    """A copy of the VLM inside the VLA, as notebook 02 asked it questions: its vision encoder, projector and
    GPT, the output cut to the text tokens (a question is answered in words, never in action tokens)."""
    text = policy.text_vocab
    config = GPTConfig(**{**policy.gpt.config.__dict__, "vocab_size": text})
    vlm = VLM(policy.vision.config, config).to(policy.device)
    weights = {
        f"gpt.{k}": v[:text] if k in ("wte.weight", "lm_head.weight") else v for k, v in policy.gpt.state_dict().items()
    }
    weights |= {f"vision.{k}": v for k, v in policy.vision.state_dict().items()}
    weights |= {f"projector.{k}": v for k, v in policy.projector.state_dict().items()}
    vlm.load_state_dict(weights)
    return vlm.eval()


def _norm(gradients: list[torch.Tensor | None]) -> float:
    """The norm of several tensors' gradients taken together; None (no path from the loss) counts as zero."""
    return sum(float((g.double() ** 2).sum()) for g in gradients if g is not None) ** 0.5


def gradient_norms(policy: InsulatedVLA, batch: dict[str, Any]) -> dict[str, dict[str, float]]:
    """For each loss, the norm of its gradient on each part's parameters (``parts``) and on the keys and
    values each expert layer read ("keys, values i"): the gradient that crosses from the expert toward the
    VLM (with the stop-gradient it arrives there and goes no further). Exactly 0.0 where none arrives."""
    parts = {name: [p for p in part if p.requires_grad] for name, part in policy.parts().items()}
    with torch.enable_grad():
        losses, read = policy.losses(batch)
        pairs = zip(read.keys, read.values, strict=True)
        crossing = {f"keys, values {i + 1}": [k, v] for i, (k, v) in enumerate(pairs)}
        targets = {**parts, **crossing}
        tensors = [t for group in targets.values() for t in group if t.requires_grad]
        norms = {}
        for name, loss in losses.items():
            gradients = iter(torch.autograd.grad(loss, tensors, retain_graph=True, allow_unused=True))
            grads = {part: [next(gradients) for t in group if t.requires_grad] for part, group in targets.items()}
            norms[name] = {part: _norm(g) for part, g in grads.items()}
    return norms


@dataclass
class InsulationRecipe:
    """The recorded runs of notebook 07: the four ways of training (``RUNS``), each for the same budget, as the flow
    VLA that succeeds on the arm was trained (``recipe.HeadRecipe``), its success measured as it trains."""

    seed: int = 0
    suite: str = "pick_place"  # notebook 03's demonstrations, as ``recipe.HeadRecipe``
    episodes: int = 400
    steps: int = 6000  # training steps per run
    batch_size: int = 32  # robot frames per step
    vqa_batch_size: int = 32  # captions and questions per step (co-training)
    lr: float = 1e-3  # peak, after 100 warmup steps, with cosine decay (``train_policy``)
    eval_every: int = 500  # steps between measurements (VQA, gradient norms, chunk error, success)
    vqa_scenes: int = 2000  # the course VLM's first 2000 training scenes, for co-training
    heldout_scenes: int = 256  # of the course VLM's held-out scenes: question accuracy is measured here
    eval_episodes: int = 20  # seeded pick-and-place episodes at each measurement (or at the end)
    # On the VLM that points and still answers (``pointing.ANSWERING``), as notebook 06's flow VLA, whose
    # recipe succeeds on the arm; False: on the course VLM, which answers but never learned to point.
    pointing: bool = True
    track_success: bool = True  # the same seeded episodes at every measurement, not only at the end


def co_train(
    recipe: InsulationRecipe,
    run: str,
    dataset,
    scenes,
    heldout,
    steps: int | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> tuple[InsulatedVLA, dict]:
    """One run of the recipe (``steps`` overrides its length, for a quick look): the policy, and every
    ``eval_every`` steps its question accuracy on ``heldout`` scenes, each loss's gradient norms (on one
    fixed batch), its chunk error and, with ``track_success``, its success on the arm; then seconds per step
    and its final success on the arm. Its first ``PREFIX_STEPS`` training losses are kept for ``make test``,
    which reruns the first steps with ``stop_after`` (the measurements at step 0, then training only)."""
    from vlacourse.notebook import seed_everything
    from vlacourse.policies.policy import ChunkBatches, split_episodes
    from vlacourse.sim.evaluate import evaluate
    from vlacourse.vlm.pointing import load_course_pointing_vlm

    steps = steps or recipe.steps
    on_vlm = {"pointing_vlm": load_course_pointing_vlm(answering=True)} if recipe.pointing else {}
    seed_everything(recipe.seed)
    policy = build_insulated_vla(dataset, run, **on_vlm)
    tokenizer, device = policy.tokenizer, policy.device
    vqa_batches = qa_batches(scenes, tokenizer, recipe.vqa_batch_size, seed=recipe.seed + 1, device=device)
    # One fixed batch (robot frames, captions and questions) that every measurement of the gradients reads.
    gradient_batch = {
        **ChunkBatches(
            dataset, policy.config, recipe.batch_size, recipe.seed + 2, split_episodes(dataset.num_episodes)[0], device
        )(),
        "co_training": qa_batches(scenes, tokenizer, recipe.vqa_batch_size, recipe.seed + 3, device)(),
    }

    def measure() -> dict:
        return {
            "vqa_accuracy": question_accuracy(text_vlm(policy), tokenizer, heldout)[0],
            "gradient_norms": gradient_norms(policy, gradient_batch),
        }

    before = measure()  # step 0: the course VLM as it was, the expert as initialised
    start = time.perf_counter()
    history = train_policy(
        policy,
        dataset,
        steps,
        recipe.batch_size,
        recipe.lr,
        recipe.seed,
        eval_every=recipe.eval_every,
        progress=progress,
        co_training=vqa_batches if policy.config.vlm_losses else None,
        measure=measure,
        eval_task=recipe.suite,
        eval_episodes=recipe.eval_episodes if recipe.track_success else 0,
        stop_after=stop_after,
    )
    seconds = time.perf_counter() - start
    measured = [before] + history.measurements
    record = {
        "run": run,
        **RUNS[run],
        "seconds": seconds,
        "steps": steps,
        "eval_steps": history.eval_steps,
        "chunk_error": history.chunk_errors,
        "measure_steps": [0] + history.eval_steps,
        "vqa_accuracy": [m["vqa_accuracy"] for m in measured],
        "gradient_norms": [m["gradient_norms"] for m in measured],
        "seconds_per_step": seconds_per_step(policy, gradient_batch),
        "prefix_losses": history.losses[:PREFIX_STEPS],
    }
    if stop_after is not None:  # a prefix: no final measurement on the arm
        return policy, record
    if history.success_steps:  # the last was measured at the last step: it is the final success
        record |= {"success_steps": history.success_steps, "success_rates": history.success_rates}
        record["success"] = history.success_rates[-1]
    elif recipe.eval_episodes:
        record["success"] = evaluate(
            policy, recipe.suite, episodes=recipe.eval_episodes, seed=recipe.seed, progress=progress
        ).success_rate
    return policy, record


def seconds_per_step(policy: InsulatedVLA, batch: dict[str, Any], repeats: int = 5) -> float:
    """What one training step costs (the forward and backward passes of every loss), timed on ``batch``."""
    policy.train()
    start = time.perf_counter()
    for _ in range(repeats):
        policy(batch)[0].backward()
    policy.zero_grad(set_to_none=True)
    policy.eval()
    return (time.perf_counter() - start) / repeats


RECORDING = "insulation_runs.json"


def record_runs(
    recipe: InsulationRecipe,
    runs=tuple(RUNS),
    steps: int | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> dict:
    """Every run of ``runs`` by the recipe, as ``co_train`` measures it, with the recipe: what notebook 07's
    widget plays back (``python -m vlacourse.policies.insulation record`` writes it)."""
    from vlacourse.sim.dataset import load_or_collect
    from vlacourse.vlm.course_vlm import Recipe

    dataset = load_or_collect(recipe.suite, recipe.episodes, recipe.seed, progress=progress, workers=2)
    vlm_recipe = Recipe(seed=recipe.seed)  # the course VLM's own scenes: its training data, its held-out set
    scenes = vlm_recipe.training_scenes(recipe.vqa_scenes, progress)
    heldout = vlm_recipe.heldout(recipe.heldout_scenes, progress)
    return {
        "recipe": asdict(recipe),
        "runs": {run: co_train(recipe, run, dataset, scenes, heldout, steps, progress, stop_after)[1] for run in runs},
    }


def load_recorded_runs(path: str | Path | None = None) -> dict:
    """The shipped recording (made by ``python -m vlacourse.policies.insulation record``), or the one at ``path``."""
    return read_recording(path, RECORDING, "python -m vlacourse.policies.insulation record")


def steps_to_reach(record: dict, rate: float) -> int | None:
    """The first step at which a run tracked with ``track_success`` succeeded at least ``rate`` of the time on
    the arm, None if it never did: the paper's measure of how fast a recipe learns the robot task (Driess et
    al. 2025 compare the training steps each recipe needs to reach a performance)."""
    if "success_steps" not in record:
        raise ValueError(f"the {record['run']} run was not measured as it trained: record it with track_success")
    return next((s for s, r in zip(record["success_steps"], record["success_rates"], strict=True) if r >= rate), None)


def steps_to_its_rates(reference: dict, other: dict) -> dict[float, tuple[int, int | None]]:
    """For each success rate above zero that the ``reference`` run reached, (the step it first did, the step the
    ``other`` run first did, None if never): how much sooner one recipe learns the task, rate by rate."""
    rates = sorted(set(reference["success_rates"]) - {0.0})
    return {rate: (steps_to_reach(reference, rate), steps_to_reach(other, rate)) for rate in rates}


def main(argv: list[str] | None = None) -> None:
    commands = Commands("python -m vlacourse.policies.insulation", "knowledge insulation (notebook 07)")
    make = commands.add("record", "train the runs of an InsulationRecipe and write their measurements", RECORDING)
    make.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS))
    make.add_argument(
        "--steps", type=int, help="train each run this long (fewer: the recording's first steps, as a check)"
    )
    make.add_argument("--eval-episodes", type=int, help="episodes on the arm at each success measurement (0: none)")
    make.add_argument(
        "--add", action="store_true", help="keep the other runs already in --out (recorded by the same recipe)"
    )
    args = commands.parse(argv)
    recipe = InsulationRecipe()
    if args.eval_episodes is not None:
        recipe = replace(recipe, eval_episodes=args.eval_episodes)
    kept = {}
    if args.add and args.out.exists():
        earlier = load_recorded_runs(args.out)
        if args.steps:
            raise SystemExit("--add keeps whole runs: record a --steps check into a file of its own")
        if earlier["recipe"] != asdict(recipe):
            raise SystemExit(f"{args.out} was recorded by another recipe: --add only adds runs of the same one")
        kept = earlier["runs"]
    recording = record_runs(recipe, args.runs, args.steps, progress=not args.quiet)
    runs = kept | recording["runs"]  # a run recorded again replaces its earlier record
    recording["runs"] = {run: runs[run] for run in RUNS if run in runs}
    args.out.write_text(json.dumps(recording, indent=1))
    for run, measured in recording["runs"].items():
        print(
            f"{run:>10}: question accuracy {measured['vqa_accuracy'][0]:.3f} -> {measured['vqa_accuracy'][-1]:.3f}, "
            f"chunk error {measured['chunk_error'][-1]:.3f}, success {measured.get('success', float('nan')):.0%}, "
            f"{measured['seconds_per_step']:.2f} s per step"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
