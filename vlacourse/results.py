"""RESULTS.md: every number the course's shipped artifacts recorded when they were made, on one page.

The numbers live in the artifacts themselves: each checkpoint's metadata (``metrics``, written by the command
that trained it) and the JSON recordings in ``vlacourse/data``. This module only reads them, without loading
any weights, and writes them as Markdown tables:

    python -m vlacourse.results              # rewrites RESULTS.md (run it at the repository root)
    python -m vlacourse.results --check      # exits 1 if RESULTS.md is not what the artifacts say

``make reproduce`` retrains an artifact; after shipping a new one, rerun the command (``make test`` checks the
page is current). Notebooks read the same files, never this page.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vlacourse.checkpoint import metrics_of

HEADS = {
    "binning": "course_vla_binning.safetensors",
    "FAST": "course_vla_fast.safetensors",
    "flow": "course_vla_flow.safetensors",
}


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def success(rate: float, episodes: int) -> str:
    """A success rate with its 95% Wilson interval, as ``vlacourse.sim.evaluate`` reports it."""
    from vlacourse.sim.evaluate import wilson_interval  # imports MuJoCo: after ``configure_mujoco_gl``

    low, high = wilson_interval(round(rate * episodes), episodes)
    return f"{rate:.0%} [{low:.0%}, {high:.0%}] of {episodes}"


def vlm_section() -> list[str]:
    vlm, pointer = metrics_of("course_vlm.safetensors"), metrics_of("course_pointing_vlm.safetensors")
    answering = metrics_of("course_answering_pointing_vlm.safetensors")
    recipe = pointer["recipe"]
    return [
        "## Notebook 02: the course VLM, and the VLM that points",
        "",
        "`python -m vlacourse.vlm.course_vlm train`, then `python -m vlacourse.vlm.pointing train`; held-out scenes.",
        "",
        *table(
            ["measure", "value", "baseline"],
            [
                [
                    "image-to-text retrieval, top-1 among 32",
                    f"{vlm['retrieval_top1']:.1%}",
                    f"chance {vlm['retrieval_chance']:.1%}",
                ],
                ["answers to questions", f"{vlm['vqa_accuracy']:.1%}", f"majority answer {vlm['vqa_majority']:.1%}"],
                [
                    "pointing, scene camera: median / 90th percentile error",
                    f"{pointer['scene_px_median']:.2f} / {pointer['scene_px_p90']:.2f} px, "
                    f"{pointer['scene_cm_median']:.2f} / {pointer['scene_cm_p90']:.2f} cm",
                    "",
                ],
                [
                    "pointing, wrist camera: median / 90th percentile error",
                    f"{pointer['wrist_px_median']:.2f} / {pointer['wrist_px_p90']:.2f} px",
                    "",
                ],
                ["named block in view said right", f"{pointer['in_view_right']:.1%}", ""],
            ],
        ),
        "",
        f"The pointer trained on {recipe['scenes']:,} rendered scenes "
        f"({pointer['render_seconds'] / 60:.0f} min to render), {recipe['steps']} steps at batch "
        f"{recipe['batch_size']} ({pointer['train_seconds'] / 60:.0f} min).",
        "",
        "The same recipe co-trained on the course VLM's captions and questions "
        "(`python -m vlacourse.vlm.pointing train-answering`, "
        f"{answering['recipe']['vqa_batch_size']} of them a step; {answering['train_seconds'] / 60:.0f} min), "
        "against the pointer trained alone; questions on 256 of the course VLM's held-out scenes "
        "(knowledge insulation's runs on the arm start from it: notebook 07):",
        "",
        *table(
            [
                "pointing VLM",
                "answers to questions",
                "pointing, scene camera: median error",
                "block in view said right",
            ],
            [
                [name, f"{answers:.1%}", f"{metrics['scene_cm_median']:.2f} cm", f"{metrics['in_view_right']:.1%}"]
                for name, metrics, answers in (
                    ("trained alone", pointer, answering["pointing_alone_question_accuracy"]),
                    ("co-trained on questions", answering, answering["question_accuracy"]),
                )
            ],
        ),
        "",
    ]


def heads_section() -> list[str]:
    from vlacourse.policies.binning_vla import load_binning_at_10hz

    heads = {name: metrics_of(file) for name, file in HEADS.items()}
    heads = {"binning": heads.pop("binning"), "binning at 10 Hz": load_binning_at_10hz(), **heads}
    recipe = heads["flow"]["recipe"]
    rows = [
        [
            name,
            success(m["success"], recipe["eval_episodes"]),
            success(m["success_fresh_seed"], recipe["eval_episodes"]),
            success(m["success_heldout"], recipe["heldout_episodes"]),
            f"{m['chunk_error'][-1]:.3f}",
            f"{m['forward_passes_per_chunk']:.1f}",
            f"{m['ms_per_chunk']:.1f}",
            f"{m['train_seconds'] / 60:.0f}",
        ]
        for name, m in heads.items()
    ]
    return [
        "## Notebooks 04-06: three action heads, one recipe",
        "",
        f"`recipe.HeadRecipe`: {recipe['episodes']} {recipe['suite']} demonstrations, {recipe['steps']} steps at "
        f"batch {recipe['batch_size']}, lr {recipe['lr']}, on the VLM that points. Success on pick-and-place "
        "(train split: seed 0, then a fresh seed) and on the held-out colour, with 95% intervals. Binning at 10 Hz "
        "(`python -m vlacourse.policies.binning_vla 10hz`, metrics only): chunks of 2 actions, each held 5 control "
        "steps.",
        "",
        *table(
            [
                "head",
                "success",
                "fresh seed",
                "held-out colour",
                "chunk error",
                "passes per chunk",
                "ms per chunk",
                "training (min)",
            ],
            rows,
        ),
        "",
    ]


def ladder_section() -> list[str]:
    from vlacourse.policies.flow import load_flow_on_course_vlm

    shipped, baseline = metrics_of(HEADS["flow"]), load_flow_on_course_vlm()
    episodes = shipped["recipe"]["eval_episodes"]
    rows = [
        [
            start,
            success(m["success"], episodes),
            success(m["success_fresh_seed"], episodes),
            f"{m['chunk_error'][-1]:.3f}",
        ]
        for start, m in (
            ("the course VLM (captions and questions)", baseline),
            ("the VLM that points (20,000 rendered scenes)", shipped),
        )
    ]
    return [
        "## Notebook 06: what the flow VLA starts from",
        "",
        "The same recipe and demonstrations; only the VLM under the action expert differs "
        "(`python -m vlacourse.policies.flow baseline` against `... train`).",
        "",
        *table(["flow VLA on", "success", "fresh seed", "chunk error"], rows),
        "",
        "The shipped flow VLA with other numbers of Euler steps, on the same weights:",
        "",
        *table(
            ["Euler steps", "chunk error", "ms per chunk when made"],
            [[n, f"{r['chunk_error']:.3f}", f"{r['ms_per_chunk']:.1f}"] for n, r in shipped["num_steps"].items()],
        ),
        "",
    ]


def insulation_section() -> list[str]:
    from vlacourse.policies.insulation import load_recorded_runs

    runs = load_recorded_runs()
    recipe = runs["recipe"]
    steps = runs["runs"]["naive"]["success_steps"]
    shown = steps[1:-1:2]  # every other measurement keeps the table narrow; the last has its interval
    rows = [
        [
            name,
            "yes" if run["stop_gradient"] else "no",
            "yes" if run["vlm_losses"] else "no",
            f"{run['vqa_accuracy'][0]:.1%} -> {min(run['vqa_accuracy']):.1%} -> {run['vqa_accuracy'][-1]:.1%}",
            *(f"{run['success_rates'][steps.index(step)]:.0%}" for step in shown),
            success(run["success"], recipe["eval_episodes"]),
            f"{run['chunk_error'][-1]:.3f}",
            f"{run['seconds'] / 60:.0f}",
        ]
        for name, run in runs["runs"].items()
    ]
    return [
        "## Notebook 07: knowledge insulation",
        "",
        f"`python -m vlacourse.policies.insulation record`: {recipe['episodes']} {recipe['suite']} demonstrations, "
        f"{recipe['steps']} steps at batch {recipe['batch_size']}, on the VLM that points and answers; question "
        f"accuracy on {recipe['heldout_scenes']} held-out scenes; success on the same {recipe['eval_episodes']} "
        f"seeded episodes every {recipe['eval_every']} steps (notebook 07 plots every measurement).",
        "",
        *table(
            [
                "run",
                "stop-gradient",
                "VLM losses",
                "questions: start -> lowest -> end",
                *(f"success at step {step}" for step in shown),
                "success at the end",
                "chunk error",
                "minutes",
            ],
            rows,
        ),
        "",
    ]


def sweep_rows(sweep: dict) -> list[str]:
    """A recorded RTC sweep as a table: a row per strategy, a column per delay."""
    from vlacourse.chunking.rtc import summarize

    delays = sweep["recipe"]["delays"]
    rows = [
        [
            strategy,
            *(
                f"{cell['success']:.0%} [{cell['success_low']:.0%}, {cell['success_high']:.0%}], "
                f"{cell['discontinuity']:.2f}, {cell['jerk']:.0f}"
                for cell in (by_delay[str(d)] for d in delays)
            ),
        ]
        for strategy, by_delay in summarize(sweep["results"]).items()
    ]
    return table(["strategy", *(f"delay d = {d}" for d in delays)], rows)


def chunking_section() -> list[str]:
    from vlacourse.chunking.rtc import load_recorded_sweep
    from vlacourse.chunking.rtc_styles import load_styles_sweep

    sweep, styles = load_recorded_sweep(), load_styles_sweep()
    recipe, fine_tuning = sweep["recipe"], styles["styles_recipe"]
    sensitivity = {name: sum(ratios) / len(ratios) for name, ratios in styles["sensitivity"].items()}
    return [
        "## Notebook 08: real-time chunking",
        "",
        f"`python -m vlacourse.chunking.rtc record`: the shipped flow VLA, {recipe['episodes']} {recipe['task']} "
        f"episodes per cell, a new chunk every {recipe['horizon']} steps; its cells took {sweep['seconds'] / 60:.0f} "
        "min together, each on one CPU thread. Each cell: success [95% interval], the largest jump at a switch "
        "(action units), RMS jerk (m/s^3), averaged over episodes.",
        "",
        *sweep_rows(sweep),
        "",
        f"`python -m vlacourse.chunking.rtc_styles record`: the shipped flow VLA fine-tuned for {fine_tuning['steps']} "
        f"steps on {fine_tuning['episodes']} demonstrations by three operator styles "
        f"({styles['fine_tune_seconds'] / 60:.0f} min), then the same sweep with {styles['recipe']['episodes']} "
        f"episodes per cell ({styles['seconds'] / 60:.1f} min). Guidance sensitivity |e^T dA_hat/dx_t| / |e|, "
        f"the mean over the Euler steps: shipped {sensitivity['shipped']:.2f}, fine-tuned "
        f"{sensitivity['styles']:.2f}.",
        "",
        *sweep_rows(styles),
        "",
    ]


def planner_section() -> list[str]:
    from vlacourse.hierarchy.planning import TASKS, planner_runs, success_rate

    runs = planner_runs()
    made = runs["two@100"]
    recipe = made["recipe"]

    def cell(metrics: dict, name: str) -> str:
        outcome = metrics[f"{name}_outcomes"]
        return success(success_rate(outcome), len(outcome))

    return [
        "## Notebook 10: the CLIPort-style planner",
        "",
        f"`python -m vlacourse.hierarchy.planning train`: {recipe['demonstrations']} demonstrations a task "
        f"({', '.join(TASKS)}), {recipe['steps']} steps at batch {recipe['batch_size']}; each decision carried out by "
        f"the scripted expert's motions; {made['seconds'] / 60:.0f} min. The other runs "
        "(`python -m vlacourse.hierarchy.planning curves`): the same recipe on fewer demonstrations, or with one "
        "stream. Training colours and held-out colour/task pairs.",
        "",
        *table(
            ["streams", "demonstrations", *(f"{t} {split}" for t in TASKS for split in ("seen", "held-out"))],
            [
                [
                    metrics["recipe"]["streams"],
                    str(metrics["recipe"]["demonstrations"]),
                    *(cell(metrics, name) for t in TASKS for name in (t, f"{t}_heldout")),
                ]
                for metrics in runs.values()
            ],
        ),
        "",
    ]


def command_vla_section() -> list[str]:
    from vlacourse.hierarchy.commands import UNREADABLE
    from vlacourse.hierarchy.navila import CHECKPOINT, success_of
    from vlacourse.sim.arm import CONTROL_HZ

    metrics = metrics_of(CHECKPOINT)
    recipe = metrics["recipe"]
    rows = []
    for style in (recipe["style"], recipe["other_style"]):
        episodes = metrics[f"episodes_{style}"]
        said = [c for e in episodes for c in e["commands"]]
        seconds = sum(e["steps"] for e in episodes) / CONTROL_HZ
        rows.append(
            [
                style + (" (learned with)" if style == recipe["style"] else " (swapped in, no retraining)"),
                success(success_of(episodes), len(episodes)),
                f"{len(said) / seconds:.1f}",
                f"{sum(c == UNREADABLE for c in said) / len(said):.1%}",
            ]
        )
    return [
        "## Notebook 10: the command VLA (NaVILA)",
        "",
        f"`python -m vlacourse.hierarchy.navila train`: the VLM that points, writing the next mid-level command; "
        f"{recipe['episodes']} oracle-driven {recipe['task']} episodes with {recipe['noise']:.0%} of moves carried "
        f"out off (DART), {metrics['rows']} rows, {recipe['steps']} steps at batch {recipe['batch_size']}; "
        f"{metrics['train_seconds'] / 60:.0f} min. Says exactly the oracle's command in "
        f"{metrics['command_accuracy']:.1%} of the rows of {recipe['validation_episodes']} clean episodes.",
        "",
        *table(["low level", "success", "commands a second", "unreadable"], rows),
        "",
    ]


def commentary_section() -> list[str]:
    from vlacourse.hierarchy.lingo import CHECKPOINT

    metrics = metrics_of(CHECKPOINT)
    recipe, episodes = metrics["recipe"], len(metrics["episodes"])
    return [
        "## Notebook 10: the commenting VLA (LINGO-2)",
        "",
        f"`python -m vlacourse.hierarchy.lingo train`: the shipped flow VLA fine-tuned {recipe['steps']} steps to say, "
        f"before each chunk, what it is doing; {metrics['train_seconds'] / 60:.0f} min. On {episodes} pick_place "
        "episodes: success, the share of chunks whose words agree with what the arm did (our check, "
        "`lingo.agrees`), and Wayve's warning sign measured.",
        "",
        *table(
            ["measure", "value"],
            [
                ["success", success(metrics["success"], episodes)],
                ["chunks whose words agree", f"{metrics['consistent_chunks']:.1%}"],
                ["failed episodes with a disagreeing chunk", f"{metrics['flagged_among_failed']:.0%}"],
                ["successful episodes with a disagreeing chunk", f"{metrics['flagged_among_succeeded']:.0%}"],
                ["failure rate, all episodes", f"{metrics['failure_rate']:.1%}"],
                ["failure rate, episodes with a disagreeing chunk", f"{metrics['failure_rate_when_flagged']:.1%}"],
                [
                    "disagreeing chunks in failed / successful episodes",
                    f"{metrics['disagreeing_share_failed']:.1%} / {metrics['disagreeing_share_succeeded']:.1%}",
                ],
            ],
        ),
        "",
    ]


def vl_jepa_section() -> list[str]:
    from vlacourse.vlm.vl_jepa_recipe import CHECKPOINT

    metrics = metrics_of(CHECKPOINT)
    answers, doing, passes, trainable = (metrics[k] for k in ("answers", "doing", "passes_per_answer", "trainable"))
    selective, paper = metrics["selective"], metrics["selective"]["at_one_a_second"]
    uniform = (
        "no uniform spacing reaches it, not even every frame (10/s)"
        if selective["fewer_is_lower_bound"]
        else f"uniform decoding needs {selective['uniform_rate']:.2f}/s for it"
    )
    return [
        "## Notebook 12: VL-JEPA against a token VLM",
        "",
        "`python -m vlacourse.vlm.vl_jepa_recipe train`: both from the same frozen X-encoder and the same stage-1 GPT, "
        f"trained on the same batches; {metrics['train_seconds'] / 60:.0f} min. Answers: the course VLM's 512 held-out "
        f"scenes; what the robot is doing: every frame of {metrics['heldout_streams']} held-out clear_table streams.",
        "",
        *table(
            ["measure", "token VLM", "VL-JEPA"],
            [
                ["held-out answers", f"{answers['token_vlm']:.1%}", f"{answers['vl_jepa']:.1%}"],
                ["what the robot is doing, per frame", f"{doing['token_vlm']:.1%}", f"{doing['vl_jepa']:.1%}"],
                ["forward passes per answer", f"{passes['token_vlm']:.2f}", f"{passes['vl_jepa']:.0f}"],
                [
                    "trainable parameters",
                    f"{trainable['token_vlm']:,}",
                    f"{trainable['vl_jepa_predictor']:,} + Y-encoder {trainable['vl_jepa_y_encoder']:,} at 0.05x",
                ],
            ],
        ),
        "",
        f"Selective decoding on the held-out streams: adaptive decoding at the threshold chosen on the training "
        f"streams ({selective['threshold']}) makes {selective['adaptive_rate']:.2f} decodes a second and is right on "
        f"{selective['adaptive_quality']:.1%} of frames; {uniform}: {selective['fewer']:.1f}x fewer decodes"
        f"{' (at least)' if selective['fewer_is_lower_bound'] else ''}. At one uniform decode a second "
        f"({paper['reference_quality']:.1%}), adaptive decoding needs {paper['adaptive_rate']:.2f}/s "
        f"({paper['fewer']:.1f}x fewer).",
        "",
    ]


def render() -> str:
    lines = [
        "# Results",
        "",
        "What the course's shipped artifacts measured when they were made, read from their files in "
        "`vlacourse/data` (checkpoint metadata and JSON recordings). Written by `python -m vlacourse.results`: "
        "do not edit by hand. Times are this repository's two-core CPU machine.",
        "",
        *vlm_section(),
        *heads_section(),
        *ladder_section(),
        *insulation_section(),
        *chunking_section(),
        *planner_section(),
        *command_vla_section(),
        *commentary_section(),
        *vl_jepa_section(),
    ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vlacourse.results", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("RESULTS.md"), help="the page to write or check")
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is out of date")
    args = parser.parse_args(argv)
    from vlacourse.notebook import configure_mujoco_gl

    configure_mujoco_gl()
    page = render()
    if args.check:
        if not args.out.exists() or args.out.read_text() != page:
            sys.exit(f"{args.out} is out of date with the shipped artifacts: run `python -m vlacourse.results`")
        print(f"{args.out} is current")
        return
    args.out.write_text(page)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
