import requests

import sinch_helpers as sh

client = sh.connect()
to = sh.my_numbers(client, ["+447700900003", "+447700900004"])
if sh.ready_to_send(client, to):
    response = requests.post(
        client.base_url + "/batches",
        headers={"Authorization": f"Bearer {client.credentials.api_token}"},
        json={
            "to": to,
            "from": sh.my_sender(client),
            "body": "Practice makes perfect",
            "client_reference": "my-first-reference",
        },
        timeout=10,
    )
    response.raise_for_status()
    fetched = client.get_batch(response.json()["id"])
    print(fetched.client_reference)
