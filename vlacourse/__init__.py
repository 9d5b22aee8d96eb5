"""vlacourse: the companion package of the VLA course.

The package in the order the notebooks meet it: each module under the notebook that builds it or first
builds on it (tests/test_package_map.py checks this map against the notebooks' imports). The subpackages
follow the course's arc: ``lm`` (notebook 01), ``vlm`` (02), ``sim`` (03), ``policies`` (04-07),
``chunking`` (08), ``hierarchy`` (10), ``vlm`` again (12), and ``widgets``, which no model module imports.

    every notebook  notebook              the setup cell: MuJoCo's GL backend, seeds, device, Colab
                    exercises             check() for the learner's functions, student notebooks, the grader
    00 welcome      course                the notebooks in order, the repository, the course map
                    setup_check           the environment check and the scene explorer
                    render                offscreen MuJoCo rendering (fast for policies, pretty for people)
    01 LLM          lm.corpus             the course's language: templated sentences about the tabletop
                    lm.tokenizer          byte-level BPE
                    lm.gpt                a tiny GPT with a KV cache, in nanoGPT's style
                    lm.language_model     token windows, the unigram baseline, the cost of a generated token
                    training              the training loop shared by every model
    02 VLM          vlm.scenes            rendered scenes with their facts: the VLM's images and words
                    vlm.vision            a ViT, SigLIP-style contrastive training, the pointer
                    vlm.course_vlm        the LLaVA-style course VLM and its three-stage recipe
                    sim.cameras           where things appear in the cameras: the pointing labels
                    vlm.pointing          the course VLM taught to point on rendered scenes
    03 robot        sim                   the arm, its tasks, the scripted expert, demonstrations, evaluation
    04 binning VLA  policies.policy       the policy interface (select_action, predict_action_chunk), chunk batches
                    policies.binning      RT-2's action bins
                    policies.vlm_prefix   the VLM prefix every VLA reads its actions after
                    policies.binning_vla  the VLA that writes action bins as tokens (RT-2, OpenVLA)
                    policies.recipe       the one recipe the action heads are trained and measured by
                    policies.compression  action tokenizers measured on the demonstrations: FAST against bins
    05 FAST         policies.fast         the FAST tokenizer: DCT, scale and round, BPE
                    policies.fast_vla     the VLA that writes FAST tokens
                    widgets.dct           the DCT compression widget
    06 flow         policies.flow         the flow-matching action expert and its Euler sampler
    07 insulation   policies.insulation   knowledge insulation: the four runs and their instruments
                    widgets.gradient      the gradient-blocking widget
    08 chunking     chunking.rtc          real-time chunking: the execution loop, the five strategies, the sweep
                    chunking.rtc_styles   the sweep again on a flow VLA fine-tuned on three operators' styles
                    widgets.chunk         the sweep's plot and the chunk-overlap widget
    10 hierarchical hierarchy.top_view    the planner's view: the table from straight above, with heights
                    hierarchy.primitives  a pick and a place decided on that view, carried out by the expert's motions
                    hierarchy.cliport     the CLIPort-style planner: two streams, pick and place heatmaps
                    hierarchy.planning    the planner's demonstrations, training, success on the arm and curves
                    widgets.planner       the planner widget: its pick and place maps, the arm carrying them out
                    hierarchy.commands    NaVILA's mid-level commands for the arm, their oracle and low level
                    hierarchy.navila      the command VLA: the VLM writes the next command, the low level moves
                    hierarchy.lingo       the commenting VLA: words and actions from one model, checked
    12 VL-JEPA      vlm.vl_jepa           VL-JEPA: X-encoder, bidirectional predictor, Y-encoder, InfoNCE, Y-decoder
                    vlm.vl_jepa_recipe    VL-JEPA against a token VLM on the same batches; the shipped checkpoint
                    vlm.streams           the arm's streaming camera, and selective decoding where the stream changes
                    widgets.selective     the selective-decoding widget
    tools           widgets.interactive   controls that redraw a picture (every course widget), the live loss curve
                    checkpoint            reading the shipped checkpoints and recordings, with errors that name the fix
                    cli                   the package's commands (python -m vlacourse.<module> ...)
                    results               RESULTS.md, from what the shipped artifacts recorded
                    bench                 benchmarks that print numbers: python -m vlacourse.bench sim

Import ``vlacourse.render`` (or anything that imports mujoco) only after ``setup()``.
"""

__version__ = "0.1.0"
