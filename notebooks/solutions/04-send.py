import sinch_helpers as sh

client = sh.connect()
people = sh.load_recipients("../data/recipients.csv").head(3)
parameters = sh.parameters_from_frame(people, ["name"], defaults={"name": "friend"})
to = sh.my_numbers(client, people["e164"].dropna().tolist())
if sh.ready_to_send(client, to):
    batch = client.send_batch(
        to, "Your table is ready, ${name}!", sh.my_sender(client), parameters=parameters
    )
    sh.wait_for_delivery(client, batch.id, timeout=60)
    print(sh.plot_delivery(client.delivery_report(batch.id, type="full")))
