# Uses the notebook's `client`, `people` and `sender`.
first_three = people.head(3)
table_parameters = sh.parameters_from_frame(first_three, ["name"], defaults={"name": "friend"})
table_batch = client.send_batch(
    first_three["e164"].dropna().tolist(),
    "Your table is ready, ${name}!",
    sender,
    parameters=table_parameters,
)
sh.wait_for_delivery(client, table_batch.id, timeout=60)
sh.plot_delivery(client.delivery_report(table_batch.id, type="full"), title="Tables ready")
