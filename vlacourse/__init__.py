"""vlacourse: the companion package of the VLA course.

Modules, in the order the notebooks meet them:
    notebook     the setup every notebook runs first: MuJoCo's GL backend, seeds, device, Colab
    course       the notebooks in order, the repository, the course map
    render       offscreen MuJoCo rendering (fast for policies, pretty for people)
    widgets      controls that redraw a picture: the pattern every course widget uses
    setup_check  notebook 00's environment check and scene explorer
    exercises    check() for the learner's functions, and the student-notebook writer

Import ``vlacourse.render`` (or anything that imports mujoco) only after ``setup()``.
"""

__version__ = "0.1.0"
