"""Benchmarks that print numbers: ``python -m vlacourse.bench sim [--episodes N]``, ``... vla`` and ``... flow``.

sim: physics steps per second, milliseconds per 64x64 policy frame, expert episodes per second
(with and without rendering the policy's cameras), and the expert's success rate per task.
vla: the binning VLA's inference cost (prefix pass, per-token pass, milliseconds per chunk,
actions per second) on one CPU thread and on all of them, and its speed in a closed loop on the arm.
flow: the shipped flow VLA's milliseconds per chunk and actions per second on one CPU thread and on all
of them, per number of integration steps, against the 50 Hz the arm needs; its closed loop on one task.
success: each shipped VLA's success on pick-and-place over fixed seeds, with its 95% interval, on the
training colours and on the held-out one, beside the scripted expert's.
answers: milliseconds per answer of notebook 12's token VLM (a pass per token) and VL-JEPA (one predictor pass,
then the nearest known answer), one frame at a time and in batches, on one CPU thread and on all of them.
"""

from __future__ import annotations

import time

from vlacourse.cli import Commands


def bench_sim(episodes: int) -> None:
    import mujoco

    from vlacourse.sim.env import TabletopEnv
    from vlacourse.sim.evaluate import evaluate
    from vlacourse.sim.expert import ScriptedExpert
    from vlacourse.sim.tasks import TASKS

    env = TabletopEnv("pick_place")
    env.reset(seed=0)
    model, data = env.arm.model, env.arm.data
    start, steps = time.perf_counter(), 20_000
    mujoco.mj_step(model, data, nstep=steps)
    print(f"physics: {steps / (time.perf_counter() - start):,.0f} steps/s (2 ms steps; 10 per control step)")
    for camera in ("scene", "wrist"):
        print(f"policy frame 64x64, {camera} camera: {env.policy_camera.ms_per_frame(data, camera, 500):.3f} ms")
    for cameras in (("scene", "wrist"), ()):
        bare = TabletopEnv("pick_place", cameras=cameras)
        result = evaluate(ScriptedExpert(bare), "pick_place", episodes=10, env=bare, progress=False)
        seen = "with both cameras" if cameras else "without images"
        print(
            f"expert pick_place {seen}: {result.loop_hz / result.mean_length:.1f} episodes/s, "
            f"{result.loop_hz:,.0f} control steps/s"
        )
    print(f"expert success over {episodes} seeded episodes per task:")
    for task in TASKS:
        bare = TabletopEnv(task, cameras=())
        print("  " + str(evaluate(ScriptedExpert(bare), task, episodes=episodes, env=bare, progress=False)))


def bench_vla(episodes: int, checkpoint: str | None) -> None:
    """The shipped binning VLA (or ``checkpoint``): where a chunk's time goes, then its closed loop on
    pick-and-place, the task it learned."""
    import torch

    from vlacourse.policies.binning_vla import decoding_cost, load_course_vla
    from vlacourse.policies.policy import torch_threads
    from vlacourse.sim.env import TabletopEnv
    from vlacourse.sim.evaluate import evaluate

    policy = load_course_vla(checkpoint)
    observation, _ = TabletopEnv("pick_place").reset(seed=0)
    for n in sorted({1, torch.get_num_threads()}):
        with torch_threads(n):
            cost = decoding_cost(policy, observation, repeats=50)
        print(f"binning VLA on {n} CPU thread(s): " + ", ".join(f"{k} {v:.2f}" for k, v in cost.items()))
    print("  " + str(evaluate(policy, "pick_place", episodes=episodes, progress=False)))


CONTROL_HZ = 50  # the arm's control rate: a chunk of H actions must be ready every H / 50 s


def bench_flow(episodes: int, checkpoint: str | None, task: str) -> None:
    """The shipped flow VLA (or ``checkpoint``) timed with 1 to 20 Euler steps, executing whole chunks, then
    run on ``task`` (the shipped one learned pick-and-place only)."""
    import torch

    from vlacourse.policies.flow import load_course_flow_vla
    from vlacourse.policies.policy import actions_per_second, torch_threads
    from vlacourse.sim.env import TabletopEnv
    from vlacourse.sim.evaluate import evaluate

    policy = load_course_flow_vla(checkpoint)
    observation, _ = TabletopEnv("pick_place").reset(seed=0)
    chunk, executed = policy.config.chunk_size, policy.steps_per_chunk
    print(
        f"flow VLA, chunks of {chunk}, {executed} control steps executed: {CONTROL_HZ} Hz needs a chunk every "
        f"{1000 * executed / CONTROL_HZ:.0f} ms"
    )
    for n in sorted({1, torch.get_num_threads()}):
        for steps in (1, 5, 10, 20):
            with torch_threads(n), policy.sampling_steps(steps):
                speed = actions_per_second(policy, observation, chunks=30)
            verdict = "keeps up" if speed["actions_per_second"] >= CONTROL_HZ else "too slow"
            print(
                f"  {n} CPU thread(s), {steps:2d} Euler steps: {speed['ms_per_chunk']:6.1f} ms per chunk, "
                f"{speed['actions_per_second']:6.0f} actions/s ({verdict} at {CONTROL_HZ} Hz)"
            )
    print("  " + str(evaluate(policy, task, episodes=episodes, progress=False)))


SHIPPED_VLAS = {
    "flow": ("vlacourse.policies.flow", "load_course_flow_vla"),
    "FAST": ("vlacourse.policies.fast_vla", "load_course_fast_vla"),
    "binning": ("vlacourse.policies.binning_vla", "load_course_vla"),
}


def bench_success(episodes: int, heldout_episodes: int) -> None:
    """Success over seeded episodes (the same seeds every run: ``sim.evaluate``), train and held-out colours."""
    import importlib

    from vlacourse.sim.env import TabletopEnv
    from vlacourse.sim.evaluate import evaluate
    from vlacourse.sim.expert import ScriptedExpert

    bare = TabletopEnv("pick_place", cameras=())
    print(
        "scripted expert\n  "
        + str(evaluate(ScriptedExpert(bare), "pick_place", episodes=episodes, env=bare, progress=False))
    )
    for name, (module, loader) in SHIPPED_VLAS.items():
        policy = getattr(importlib.import_module(module), loader)()
        print(f"{name} VLA")
        for split, count in (("train", episodes), ("heldout", heldout_episodes)):
            print(
                "  " + str(evaluate(policy, "pick_place", episodes=count, split=split, progress=False, side_by_side=10))
            )


def bench_answers(frames: int) -> None:
    """The shipped VL-JEPA comparison: time per answer to "what is the robot doing?" on held-out stream frames."""
    import torch

    from vlacourse.policies.policy import torch_threads
    from vlacourse.vlm.vl_jepa_recipe import STREAM_PROMPT, encode_streams, load_vl_jepa, predict_texts, token_answers

    shipped = load_vl_jepa()
    visual = encode_streams(shipped.jepa.x_encoder, shipped.recipe.streams("heldout", count=1, progress=False))[:frames]
    models = {
        "token VLM": lambda v: token_answers(shipped.token_vlm, shipped.tokenizer, v, STREAM_PROMPT)[0],
        "VL-JEPA": lambda v: shipped.decoder.decode(predict_texts(shipped.jepa, shipped.tokenizer, v, STREAM_PROMPT)),
    }
    for n in sorted({1, torch.get_num_threads()}):
        with torch_threads(n), torch.no_grad():
            for name, answer in models.items():
                for batch in (1, len(visual)):
                    start = time.perf_counter()
                    for first in range(0, len(visual), batch):
                        answer(visual[first : first + batch])
                    per_answer = (time.perf_counter() - start) / len(visual) * 1000
                    print(f"{name} on {n} CPU thread(s), batches of {batch}: {per_answer:.2f} ms per answer")


def main(argv: list[str] | None = None) -> None:
    commands = Commands("python -m vlacourse.bench", __doc__.splitlines()[0])
    sim = commands.add("sim", "the simulator, the renderer and the scripted expert")
    sim.add_argument("--episodes", type=int, default=100, help="episodes per task for the expert's success rate")
    vla = commands.add("vla", "the binning VLA's inference cost and closed-loop speed")
    vla.add_argument("--episodes", type=int, default=5, help="pick-and-place episodes in the closed loop")
    vla.add_argument("--checkpoint", help="a binning VLA's safetensors file (default: the shipped one)")
    flow = commands.add("flow", "the flow VLA's inference cost per number of steps, and closed loop")
    flow.add_argument("--episodes", type=int, default=5, help="episodes in the closed loop")
    flow.add_argument("--checkpoint", help="a flow VLA's safetensors file (default: the shipped one)")
    flow.add_argument("--task", default="pick_place", help="the task of the closed loop (default: pick_place)")
    success = commands.add("success", "each shipped VLA's success on pick-and-place, with its interval")
    success.add_argument("--episodes", type=int, default=100, help="seeded episodes on the training colours")
    success.add_argument("--heldout-episodes", type=int, default=50, help="seeded episodes on the held-out colour")
    answers = commands.add("answers", "notebook 12's token VLM and VL-JEPA: milliseconds per answer")
    answers.add_argument("--frames", type=int, default=64, help="held-out stream frames answered")
    args = commands.parse(argv)
    if args.command == "answers":
        bench_answers(args.frames)
    elif args.command == "success":
        bench_success(args.episodes, args.heldout_episodes)
    elif args.command == "sim":
        bench_sim(args.episodes)
    elif args.command == "vla":
        bench_vla(args.episodes, args.checkpoint)
    else:
        bench_flow(args.episodes, args.checkpoint, args.task)


if __name__ == "__main__":
    main()
