"""The course's robot: a MuJoCo arm on a tabletop, its tasks, its scripted expert, its data.

    arm       the model, closed-form inverse kinematics, one 50 Hz control step
    tasks     the task suite: language templates, random layouts, success detectors, subtasks
    env       TabletopEnv, the gymnasium environment policies act in
    expert    ScriptedExpert, minimum-jerk demonstrations with noise, recoveries and operator styles
    dataset   collecting, caching and reading demonstrations (LeRobot's field names)
    evaluate  closed-loop success rates with Wilson intervals
    show      rollout videos, gripper paths, the policy's view beside yours

Import after ``vlacourse.notebook.setup()``: MuJoCo fixes its rendering backend when first imported.
"""
