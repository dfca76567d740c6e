import sinch_helpers as sh

client = sh.connect()
crowd = sh.load_recipients("../data/workshop_recipients.csv").head(40)
to = sh.my_numbers(client, crowd["e164"].tolist())
if sh.ready_to_send(client, to):
    batch = client.send_batch(to, "Hi!", sh.my_sender(client))
    sh.wait_for_delivery(client, batch.id, timeout=60, progress=False)
    report = sh.delivery_frame(client.delivery_report(batch.id, type="full"))
    report = report.assign(e164="+" + report["recipient"])
    by_status = crowd.merge(report, on="e164").groupby("status")["name"].apply(list)
    print(by_status)
