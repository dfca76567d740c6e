# Uses the notebook's `client`, `people` and `sender`; new names, so later cells are unaffected.
name_and_city = sh.parameters_from_frame(
    people, ["name", "city"], defaults={"name": "friend", "city": "your town"}
)
greeting = "Hi ${name}, greetings from ${city}!"
display(sh.check_message(greeting, people["e164"].dropna().tolist(), name_and_city))
sh.preview(client, greeting, people, name_and_city, sender)
