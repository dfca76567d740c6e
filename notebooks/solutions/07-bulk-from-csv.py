from pathlib import Path

import sinch_helpers as sh

client = sh.connect()
people = sh.load_recipients("../data/workshop_recipients.csv").head(250)
parameters = sh.parameters_from_frame(people, ["name"], defaults={"name": "friend"})
to = sh.my_numbers(client, people["e164"].dropna().tolist())
journal = Path("exercise.journal.jsonl")
journal.unlink(missing_ok=True)
if sh.ready_to_send(client, to):
    for attempt in ("first", "second"):
        result = sh.send_bulk(
            client,
            to,
            "See you soon, ${name}!",
            sh.my_sender(client),
            parameters,
            batch_size=50,
            journal=journal,
            progress=False,
        )
        print(attempt, result["state"].unique().tolist())
journal.unlink(missing_ok=True)
