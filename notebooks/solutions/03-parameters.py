import sinch_helpers as sh

client = sh.connect()
people = sh.load_recipients("../data/recipients.csv")
parameters = sh.parameters_from_frame(
    people, ["name", "city"], defaults={"name": "friend", "city": "your town"}
)
body = "Hi ${name}, greetings from ${city}!"
print(sh.check_message(body, people["e164"].dropna().tolist(), parameters))
sh.preview(client, body, people, parameters, sh.my_sender(client))
