import sinch_helpers as sh

client = sh.connect()
sender = sh.my_sender(client)
people = sh.load_recipients("../data/recipients.csv")
inbox = sh.frame(client.list_inbounds(to=[sender]), ["from", "body"])
replies = inbox.assign(e164="+" + inbox["from"])[["e164", "body"]]
rsvp = people[["name", "e164"]].merge(replies, on="e164", how="left")
first_word = rsvp["body"].str.strip().str.lower().str.split().str[0]
rsvp["coming"] = first_word.str.startswith(("y", "ja")).astype("boolean")
print(rsvp["coming"].value_counts(dropna=False))
