# Uses the notebook's `client`, `to` and `sender` (and `dt`, imported at the top).
tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
nine = dt.datetime.combine(tomorrow, dt.time(9, 0), tzinfo=dt.UTC)
morning = client.send_batch(to, "Good morning!", sender, send_at=nine.isoformat())
client.update_batch(morning.id, send_at=(nine + dt.timedelta(hours=1)).isoformat())
print("Now scheduled for", client.get_batch(morning.id).send_at)
print("canceled:", client.cancel_batch(morning.id).canceled)
