# Uses the notebook's `client`, `people`, `sender` and `plan` (and `Path`, imported at the top).
first_250 = people.head(250)
see_you = sh.parameters_from_frame(first_250, ["name"], defaults={"name": "friend"})
exercise_journal = Path(f"exercise-{plan}.journal.jsonl")  # one per plan, as in step 2
for attempt in ("first", "second"):
    outcome = sh.send_bulk(
        client,
        first_250,
        "See you soon, ${name}!",
        sender,
        see_you,
        batch_size=50,
        journal=exercise_journal,
        progress=False,
    )
    print(attempt, "run:", outcome["state"].unique().tolist())
exercise_journal.unlink()  # done: the next run is a new send
