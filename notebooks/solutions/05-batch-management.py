import datetime as dt

import sinch_helpers as sh

client = sh.connect()
to = sh.my_numbers(client, ["+447700900021", "+447700900022"])
tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
nine = dt.datetime.combine(tomorrow, dt.time(9, 0), tzinfo=dt.UTC)
if sh.ready_to_send(client, to):
    batch = client.send_batch(to, "Good morning!", sh.my_sender(client), send_at=nine.isoformat())
    client.update_batch(batch.id, send_at=(nine + dt.timedelta(hours=1)).isoformat())
    print(client.get_batch(batch.id).send_at)
    client.cancel_batch(batch.id)
