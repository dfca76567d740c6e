# Uses the notebook's `sms`, `recipients_phonenumbers`, `sender_phonenumber` and `body`.
original_parameters = {"name": {"+46722324894": "John", "default": "valued customer"}}
result = sms.batches.dry_run_sms(
    to=recipients_phonenumbers,
    from_=sender_phonenumber,
    body=body,
    parameters=original_parameters,
    per_recipient=True,
    number_of_recipients=len(recipients_phonenumbers),
)
for one in sorted(result.per_recipient, key=lambda r: r.recipient):
    print(f"{one.recipient} would read: {one.body}")
