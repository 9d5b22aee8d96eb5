"""``python -m vlacourse.exercises student SRC OUT``: write student notebooks (see ``student.py``);
``python -m vlacourse.exercises grade SUBMISSIONS``: grade a class's notebooks (see ``grade.py``)."""

import argparse
from pathlib import Path

parser = argparse.ArgumentParser(prog="python -m vlacourse.exercises")
commands = parser.add_subparsers(dest="command", required=True)
student = commands.add_parser("student", help="write notebooks with every solution replaced by a stub")
student.add_argument("source", help="folder of the solution notebooks (notebooks/)")
student.add_argument("out", help="folder to write the student notebooks to (student/)")
grade = commands.add_parser("grade", help="grade submitted notebooks: a CSV of scores and a Markdown summary")
grade.add_argument("submissions", type=Path, help="folder of .ipynb files: one per learner, or a folder per learner")
grade.add_argument("--out", type=Path, default=Path("grades.csv"), help="the CSV to write (default grades.csv)")
grade.add_argument("--summary", type=Path, help="the Markdown summary to write (default: --out with .md)")
grade.add_argument("--time-limit", type=float, default=60.0, help="seconds each exercise cell may run (60)")
grade.add_argument("--memory-gb", type=float, default=8.0, help="memory each notebook's process may use (8)")
grade.add_argument("--workers", type=int, default=1, help="notebooks graded at once (1)")
args = parser.parse_args()
if args.command == "student":
    from vlacourse.exercises.student import write_student_notebooks

    for path in write_student_notebooks(args.source, args.out):
        print(f"wrote {path}")
else:
    from vlacourse.exercises.grade import grade_folder, summary, write_csv

    try:
        grades, submissions = grade_folder(args.submissions, args.time_limit, args.memory_gb, args.workers)
    except FileNotFoundError as error:
        parser.exit(2, f"python -m vlacourse.exercises grade: {error}\n")
    write_csv(grades, submissions, args.out)
    report = args.summary or args.out.with_suffix(".md")
    report.write_text(summary(grades, submissions))
    learners = len({submission.learner for submission in submissions})
    print(f"graded {len(submissions)} notebooks of {learners} learners: wrote {args.out} and {report}")
