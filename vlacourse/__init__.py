"""vlacourse: the companion package of the VLA course.

Modules, in the order the notebooks meet them:
    notebook     the setup every notebook runs first: MuJoCo's GL backend, seeds, device, Colab
    course       the notebooks in order, the repository, the course map
    render       offscreen MuJoCo rendering (fast for policies, pretty for people)
    widgets      controls that redraw a picture: the pattern every course widget uses
    setup_check  notebook 00's environment check and scene explorer
    exercises    check() for the learner's functions, and the student-notebook writer
    corpus       the course's language: templated sentences about the tabletop (notebook 01)
    tokenizer    byte-level BPE (notebook 01)
    gpt          a tiny GPT with a KV cache, in nanoGPT's style (notebook 01)
    lm           token windows, the unigram baseline, the cost of a generated token (notebook 01)
    training     the training loop with a live loss curve, shared by every model of the course
    checkpoint   reading the course's safetensors files, with errors that name the fix
    sim          the robot: arm, tasks, expert, dataset, evaluation, display (notebook 03)
    bench        benchmarks that print numbers: python -m vlacourse.bench sim

Import ``vlacourse.render`` (or anything that imports mujoco) only after ``setup()``.
"""

__version__ = "0.1.0"
