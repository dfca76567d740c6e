# Uses the notebook's `client`, `batch` and `crowd`.
by_recipient = sh.delivery_frame(client.delivery_report(batch.id, type="full"))
by_recipient = by_recipient.assign(e164="+" + by_recipient["recipient"])
crowd.merge(by_recipient, on="e164").groupby("status")["name"].apply(list)
